"""CLI wiring for the review and editor commands: `mlspec diff`, `mlspec graph`, `mlspec init ci`,
`mlspec lsp` (docs/cli.md). `add_parsers(sub)` is called by mlspec.compiler.cli.

Exit codes as every command: 0 ok, 1 spec errors (`diff`: or a risky change), 2 usage errors.
"""
from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_SPEC, EXIT_USAGE = 0, 1, 2


def _diags(diags, sources, fmt: str = "text") -> None:
    from mlspec.compiler.diagnostics import render_json, render_text

    if diags:
        sys.stderr.write(render_json(diags) if fmt == "json" else render_text(diags, sources))


def cmd_diff(args) -> int:
    from mlspec.compiler import diff

    try:
        result, diags, sources = diff.diff(args.old, args.new, args.env)
    except diff.DiffError as e:
        sys.stderr.write(f"mlspec: error: {e}\n")
        return EXIT_USAGE
    _diags(diags, sources, "json" if args.format == "json" else "text")
    if result is None:
        return EXIT_SPEC
    render = {"text": diff.render_text, "json": diff.render_json, "markdown": diff.render_markdown}[args.format]
    sys.stdout.write(render(result))
    return result.exit_code


def _graph_text(spec: str, fmt: str, pipeline: str | None = None, env: str | None = None, target: str | None = None):
    """(rendered text or None, diagnostics, sources). Lives here, above both `api` and `graph`
    (api draws the picture into report.md), so imports run one way."""
    from mlspec.compiler import api, graph

    if target is not None:
        if pipeline is not None:
            raise graph.GraphError("--pipeline draws the spec's pipelines; it cannot be combined with --target")
        from mlspec.compiler.plan import plan

        try:
            result = plan.run_plan(spec, target, env)
        except plan.PlanError as e:
            if not e.diagnostics:
                raise graph.GraphError(str(e)) from None
            return None, e.diagnostics, e.sources
        except api.UsageError as e:
            raise graph.GraphError(str(e)) from None
        return graph.RENDERERS[fmt](graph.from_plan(result.as_json())), [], {}
    try:
        res = api.build_irs(spec, env)
    except api.UsageError as e:
        raise graph.GraphError(str(e)) from None
    if not res.ok:
        return None, res.diagnostics, res.sources
    ir = res.irs[env] if env is not None else res.irs[next(iter(res.irs))]
    return graph.RENDERERS[fmt](graph.from_ir(ir, pipeline)), res.diagnostics, res.sources


def cmd_graph(args) -> int:
    from mlspec.compiler import graph

    try:
        text, diags, sources = _graph_text(args.spec, args.format, pipeline=args.pipeline, env=args.env,
                                               target=args.target)
    except graph.GraphError as e:
        sys.stderr.write(f"mlspec: error: {e}\n")
        return EXIT_USAGE
    _diags(diags, sources)
    if text is None:
        return EXIT_SPEC
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        sys.stdout.write(f"wrote {args.out}\n")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_init_ci(args) -> int:
    from mlspec.compiler import initci

    try:
        written = initci.init_ci(args.provider, specs=args.specs or None, out=args.out, force=args.force,
                                 branch=args.branch)
    except initci.InitError as e:
        sys.stderr.write(f"mlspec: error: {e}\n")
        return EXIT_USAGE
    for path in written:
        sys.stdout.write(f"wrote {path}\n")
    return EXIT_OK


def cmd_lsp(args) -> int:
    if args.grammar:
        from mlspec.compiler import vocab

        sys.stdout.write(vocab.textmate_json())
        return EXIT_OK
    try:
        from mlspec.compiler import lsp
    except ImportError as e:  # pygls is an extra
        sys.stderr.write(f"mlspec: error: `mlspec lsp` needs pygls ({e}); install it with "
                         "`pip install 'mlspec[lsp]'`\n")
        return EXIT_USAGE
    lsp.serve()
    return EXIT_OK


def add_parsers(sub) -> None:
    from mlspec.compiler.plan.exits import TARGETS  # the registered targets, read when a choice is checked

    RD = argparse.RawDescriptionHelpFormatter
    d = sub.add_parser("diff", help="what a spec change means, per environment, with its risks",
                       formatter_class=RD, epilog="examples:\n"
                       "  mlspec diff origin/main:specs/fraud.mlspec specs/fraud.mlspec\n"
                       "  mlspec diff old.mlspec new.mlspec --env prod --format markdown > comment.md\n\n"
                       "exit 0: nothing changed or nothing risky; 1: a risky change (or spec errors); 2: usage")
    d.add_argument("old", metavar="OLD", help="a spec file, or REV:path read from git")
    d.add_argument("new", metavar="NEW", help="a spec file, or REV:path read from git")
    d.add_argument("--env", default=None, help="one environment (default: every environment)")
    d.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    d.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    d.set_defaults(func=cmd_diff)

    g = sub.add_parser("graph", help="the system as a picture (Mermaid, Graphviz DOT or SVG)",
                       formatter_class=RD, epilog="examples:\n"
                       "  mlspec graph specs/fraud.mlspec --format mermaid\n"
                       "  mlspec graph specs/fraud.mlspec --env prod --target sagemaker --format svg --out plan.svg")
    g.add_argument("spec", metavar="SPEC")
    g.add_argument("--format", choices=("mermaid", "dot", "svg"), default="mermaid")
    g.add_argument("--pipeline", default=None, help="only this pipeline")
    g.add_argument("--env", default=None, help="environment (default: the first the spec declares)")
    g.add_argument("--target", default=None, choices=TARGETS, metavar="TARGET",
                   help="a registered target (`mlspec targets` lists them): draw the cloud resources "
                        "`mlspec plan` would create, and their dependencies")
    g.add_argument("--out", default=None, help="write to this file instead of stdout")
    g.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    g.set_defaults(func=cmd_graph)

    i = sub.add_parser("init", help="write project scaffolding (`mlspec init ci`)", formatter_class=RD,
                       epilog="examples:\n  mlspec init ci --provider github")
    isub = i.add_subparsers(dest="what", metavar="WHAT", parser_class=sub._parser_class)
    isub.required = True
    c = isub.add_parser("ci", help="a CI workflow: check, fmt --check, compile, plan, diff on review, apply on merge",
                        formatter_class=RD, epilog="examples:\n"
                        "  mlspec init ci --provider github            # .github/workflows/mlspec.yml\n"
                        "  mlspec init ci --provider gitlab --spec specs/fraud.mlspec")
    c.add_argument("--provider", required=True, choices=("github", "gitlab"))
    c.add_argument("--spec", dest="specs", action="append", metavar="SPEC",
                   help="a spec to build (repeatable; default: every *.mlspec under the current folder)")
    c.add_argument("--out", default=None, help="file to write (default: the provider's usual place)")
    c.add_argument("--branch", default="main", help="the branch merges land on (default: main)")
    c.add_argument("--force", action="store_true", help="overwrite an existing file")
    c.set_defaults(func=cmd_init_ci)

    lp = sub.add_parser("lsp", help="language server (stdio) for editors: diagnostics, hover, completion",
                        formatter_class=RD, epilog="examples:\n"
                        "  mlspec lsp                # started by the editor (needs `pip install 'mlspec[lsp]'`)\n"
                        "  mlspec lsp --grammar > editors/mlspec.tmLanguage.json")
    lp.add_argument("--grammar", action="store_true",
                    help="print the TextMate grammar built from the checker's vocabulary and exit")
    lp.set_defaults(func=cmd_lsp)
