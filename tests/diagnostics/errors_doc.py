"""Builds docs/errors.md from the diagnostic registry and the golden cases.

For every code in `mlspec.compiler.diagnostics.CODES`: a heading with an anchor
(`docs/errors.md#e204`, the link every diagnostic prints), what the code means, each
golden case of that code (the failing spec and the exact message `mlspec check` prints,
both read from tests/diagnostics/) and the fix. Because the examples are the golden
files themselves, the page cannot drift from what the compiler says:
test_zz_registry_and_docs.py fails when docs/errors.md differs from `render()`, and
`pytest --update-golden` rewrites it.
"""
from __future__ import annotations

from pathlib import Path

from mlspec.compiler.diagnostics import CODES

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DOC = ROOT / "docs" / "errors.md"

#: code -> (what it means, how to fix it)
EXPLAIN: dict[str, tuple[str, str]] = {
    "E101": ("The path given to mlspec is missing, is a directory, or cannot be read (permissions, not a "
             "regular file).",
             "Name an existing `.mlspec` file. Paths are relative to the directory you run mlspec in."),
    "E102": ("The spec is not UTF-8 text: it is UTF-16 (starts with a byte-order mark), in a legacy encoding "
             "such as Latin-1, or not text at all. The message gives the byte offset and shows the line with "
             "the undecodable byte as `�`.",
             "Re-save the file as UTF-8 (without BOM). Editors call this \"UTF-8\"; `iconv -f latin1 -t utf-8` "
             "converts from Latin-1."),
    "E103": ("The spec contains a NUL byte (usually a binary file given by mistake) or an ASCII control "
             "character other than tab and newline. Control characters are shown as `<U+0007>` so the "
             "message itself stays readable.",
             "Delete the character, or point mlspec at the right file."),
    "E104": ("The spec is larger than 1 MiB. Real specs are a few kilobytes; the limit keeps hostile or "
             "generated input from exhausting memory.",
             "Split the system into several specs."),
    "E105": ("Blocks, lists or maps are nested more than 32 levels deep. This is checked before parsing, so "
             "deeply nested input fails fast instead of exhausting the parser.",
             "Flatten the structure; no construct of the language needs more than a few levels."),
    "E110": ("The parser met a token it cannot use at that point. The message says what was wrong in words "
             "(a second `system`, a missing value, a quoted attribute name) and the hint lists what could "
             "come there.",
             "Follow the hint; docs/language.md shows the shape of every construct."),
    "E111": ("A `{`, `[` or `(` is never closed: the file ends first, or a different closing bracket comes "
             "first. The opening bracket is the primary location; the place where the parser gave up is "
             "labelled.",
             "Add the missing closing bracket where the block, list or call should end."),
    "E112": ("An attribute name is followed by its value without `=`.",
             "Write `name = value`. A block (`autoscale { ... }`) takes no `=`."),
    "E113": ("A string is not closed on the line where it starts. Strings are single-line.",
             "Close it with `\"`; write a line break inside a free-text string as `\\n`."),
    "E114": ("A character that cannot start any token: single or curly quotes, `@`, a number with an unknown "
             "unit such as `10min`.",
             "Strings use straight double quotes. Durations use `ms`, `s`, `m`, `h`, `d`, `w` (`10m`); sizes "
             "`KiB`...`TiB` or `KB`...`TB`; percentages `%`."),
    "E115": ("The file looks like YAML or JSON, for example a CI file or an old configuration given to mlspec "
             "by mistake.",
             "Pass the `.mlspec` file. A spec starts with `system <name> {`."),
    "E116": ("The file has no content besides blank lines and comments.",
             "Write the system: `system <name> { owner = \"team@example.com\" }` is the smallest valid spec."),
    "E201": ("A block holds an attribute it does not accept, usually a typo. \"Did you mean\" suggestions "
             "come only from the attributes of that block.",
             "Fix the name, or remove the attribute. The hint lists what the block accepts."),
    "E202": ("A block kind that does not exist in that place (`datset`), or a block where an attribute is "
             "expected.",
             "Fix the name; the system holds `kpi`, `dataset`, `pipeline`, `model`, `endpoint`, `batch`, "
             "`monitor`, `alert`, `channel`, `tracking`, `security`, `waive`, `environment` and `target`."),
    "E203": ("The same attribute (or map key, or list item) is set twice in one block. Both places are shown.",
             "Keep one of them."),
    "E204": ("A reference names something that is not declared: `step.trian`, `dataset.transaction`. "
             "Suggestions come only from the same namespace (steps for `step.*`).",
             "Fix the name or declare the missing item."),
    "E205": ("Two declarations share a name (two datasets `transactions`, two `security` blocks, one rule "
             "waived twice, a model registered by two steps). Both locations are shown.",
             "Rename or merge one of them; names are unique per kind in a system."),
    "E206": ("A name breaks the identifier rules: lower_snake_case ASCII matching `[a-z][a-z0-9_]{0,62}`, "
             "not a reserved word. Letters from other scripts are refused because they can look exactly "
             "like ASCII ones (`trаnsactions` with a Cyrillic `а` is another name than `transactions`).",
             "Rename as the hint suggests."),
    "E207": ("A reference names the wrong kind of thing, for example a dataset where a model is expected.",
             "Reference an item of the expected kind (`model.<name>` for a model)."),
    "E208": ("A `target` block names a target that is not installed.",
             "Use one of `sagemaker`, `vertex`, `azureml` (or an installed plug-in target); "
             "`mlspec targets` lists them."),
    "E209": ("A reference to a step output that the step does not produce, or to a step where one of its "
             "outputs is expected.",
             "Use an output the step declares: `process` steps declare theirs in `outputs`, the other kinds "
             "have fixed outputs (`model`, `metrics`, `data`, `report`, `predictions`)."),
    "E210": ("A gate reads a metric that its step does not compute, or reads metrics from a step that is "
             "not an `evaluate` step.",
             "Add the metric to the evaluate step's `metrics`, or fix the name."),
    "E211": ("Two things a script receives on its command line would get the same `--<name>` flag: two inputs "
             "that read outputs of the same name (`step.a.data` and `step.b.data` are both `--data`), an "
             "input, output, argument or hyperparameter with the same name, or a name the script contract "
             "itself uses (`model`, `metrics`, `checkpoints`). mlspec never renames a flag, so the script sees "
             "the same command line on every cloud.",
             "Name the inputs explicitly, `inputs = { yellow = step.a.data, green = step.b.data }`, or "
             "rename the output or parameter."),
    "E301": ("A value of the wrong type: a bare number where a duration, percentage or string is expected "
             "(no unit is ever assumed), a string where a name is expected, a version written as a number "
             "(`1.10` would read as `1.1`).",
             "Write the literal form the message names: `10m`, `5%`, `\"1.10\"`, `parquet`."),
    "E302": ("A value outside its allowed range: percentages 0-100%, counts, durations with a minimum "
             "(monitoring runs hourly at most), strings above their length limit.",
             "Use a value inside the range the message gives."),
    "E303": ("A required attribute or block is missing.",
             "Add it; the hint shows its form."),
    "E304": ("A value from a closed set is not one of the options (`format = parquett`, an unknown step "
             "kind, rollout strategy, column type or framework).",
             "Use one of the listed options."),
    "E305": ("A `cron(...)` schedule is not a valid five-field expression (minute hour day-of-month month "
             "day-of-week), or its time zone is not an IANA name.",
             "Fix the field the message names, e.g. `cron(\"0 3 * * MON\")` is 03:00 every Monday."),
    "E306": ("An endpoint's autoscale `min` is above its `max`.",
             "Make `min` at most `max`."),
    "E307": ("The variants of an `ab_test` rollout do not share exactly 100% of traffic. Each variant's "
             "share is labelled.",
             "Change the `traffic` values so that they add up to 100%."),
    "E308": ("A date is not a real calendar date in `YYYY-MM-DD` form.",
             "Write an existing date such as `\"2027-03-01\"`."),
    "E309": ("A string or the file contains characters that are refused: bidirectional controls and "
             "zero-width characters anywhere (they make text read differently from how it runs, \"Trojan "
             "Source\"), line breaks in single-line fields (names, owners, descriptions that become "
             "comments or tags), or shell metacharacters in step arguments.",
             "Delete the characters; keep single-line fields on one line; pass plain values as arguments "
             "and keep logic in the script."),
    "E310": ("A string contains syntax that a cloud pipeline format or a template engine would evaluate: "
             "`${{` (Azure ML), `{{` (KFP), `${`, `{%`, or a SageMaker `{\"Get\": ...}` / `Std:Join` "
             "object.",
             "Remove the expression; mlspec wires step inputs and outputs itself."),
    "E311": ("An address is malformed: a data location that is not a `data://` (or `s3://`, `gs://`, "
             "`azureml://`) URI, a URI with `..`, a malformed email address, host name, secret name or "
             "MLflow tracking URI.",
             "Use the form the message shows; prefer portable `data://` URIs."),
    "E313": ("Two attributes that exclude each other are both set (`above` and `below` in one alert, "
             "`threshold` and `max` in one monitor, two destinations in one channel).",
             "Keep one, or declare two items."),
    "E401": ("Steps (and gates) depend on each other in a cycle, through references or `after`, so none of "
             "them can start. The cycle is printed in run order and each member is labelled.",
             "Remove one of the references or `after` entries that close the cycle."),
    "E402": ("A literal secret in the spec: an AWS access key, private key, JWT, Slack or GitHub token, "
             "Google API key, connection string with a key or password, SAS token, URL with a password, a "
             "high-entropy token, a literal webhook URL in a channel, or a label whose name announces a "
             "credential. The value is never printed: every snippet that would show it shows "
             "`\"<redacted>\"` instead.",
             "Remove the secret from the spec (and rotate it: it is in version control). Store it in the "
             "cloud secret store and write `secret(\"<name>\")` where secrets are accepted (channels)."),
    "E403": ("`secret(...)` is used where its value would be stored in plain text: labels (copied onto "
             "every resource), hyperparameters and step arguments.",
             "Remove it. Scripts that need a credential read it from the secret store at run time."),
    "E404": ("A script path is not a regular file inside the project (the spec's folder): absolute, with "
             "`..`, a URL, backslashes, missing, a link leading outside the project, a directory or FIFO, "
             "larger than 5 MB, or spelled with a different case than on disk. Paths are shown relative "
             "to the project root, never as the machine's absolute path.",
             "Keep scripts under the spec's folder and write their path relative to it, e.g. "
             "`src/train.py`, spelled exactly as on disk."),
    "E405": ("The spec relaxes a rule of the security baseline (docs/security.md) without a waiver: a "
             "public network, provider-managed keys, key authentication, deployment to production without "
             "approval.",
             "Meet the rule, or, if it is waivable, add `waive \"<rule>\" { reason = \"...\"  owner = \"...\"  "
             "until = \"YYYY-MM-DD\" }`. Non-waivable rules (**NW**) cannot be relaxed."),
    "E406": ("A `waive` block names a rule id that the baseline does not define.",
             "Use an id from docs/security.md (`MLS-G-..`, `MLS-AWS-...`, `MLS-GCP-...`, `MLS-AZ-...`)."),
    "E407": ("A `waive` block names a non-waivable (**NW**) rule.",
             "Remove the waiver and meet the rule."),
    "E408": ("A waiver's `until` date has passed (the date is today's, or `MLSPEC_TODAY` when set).",
             "Fix the underlying issue, or renew the waiver with a new date and reason."),
    "E409": ("A waiver lacks its `reason`, `owner` or `until`.",
             "Every waiver says why, who owns it and until when."),
    "E410": ("A gate reads a step of another pipeline. Gates guard their own pipeline's registration.",
             "Move the gate into the pipeline of the step it reads."),
    "E411": ("A model is served (endpoint, batch job, A/B variant) but no pipeline registers it, so there "
             "would be nothing to deploy.",
             "Add `step register = register { model = model.<name> }` to the pipeline that trains it."),
    "E414": ("The spec exceeds a count limit, such as 5,000 steps in one pipeline.",
             "Split the work into several pipelines."),
    "E501": ("The chosen target has no native or emulated form of a feature the spec uses. The message "
             "names the target, the feature and the spec line; the hint lists the alternatives the "
             "target suggests. Nothing is ever dropped silently.",
             "Use one of the alternatives, or compile for a target that supports the feature "
             "(`mlspec targets` prints the matrix)."),
    "E502": ("The `target <name>` block is missing, lacks a required setting, has an unknown setting or a "
             "value of the wrong form.",
             "Add or fix the setting as the hint shows."),
    "E503": ("A name valid in mlspec is refused by the target's own naming rules (length, character set, "
             "uniqueness), reported by the target while lowering.",
             "Shorten or rename the item as the message says."),
    "E504": ("A location URI bound to one cloud (`s3://`, `gs://`, `azureml://`, an AWS ARN) is used while "
             "compiling for another target, which could not read it.",
             "Use a portable `data://` URI, which each target maps to its own storage, or compile the spec "
             "for the cloud the URI belongs to."),
    "E505": ("The target cannot lower this combination of features, for a reason it states (reported by "
             "the target while lowering).",
             "Follow the target's hint, or compile for another target."),
    "W201": ("A dataset is never read, or a channel never notified. Reported only when the spec has no "
             "errors (an unresolved reference would otherwise make its target look unused).",
             "Use it or remove it. Warnings do not change the exit code."),
    "W401": ("A waiver expires within 30 days.",
             "Plan the fix, or renew the waiver with a new date and reason."),
    "W505": ("The target has no exact match for something the spec names (e.g. a framework version without a "
             "prebuilt container) and uses the nearest one it has, named in the message. The build is written.",
             "Pin what the target should use (an `image` on the step, or a version the target lists), or accept "
             "the substitution. Warnings do not change the exit code."),
    "E901": ("The compiler crashed: this is a bug in mlspec, never a problem with your spec. The traceback "
             "is printed only with `--debug`; the exit code is 3.",
             "Rerun with `--debug` and report the traceback with the spec."),
    "E902": ("The IR the compiler produced does not satisfy compiler/ir.schema.json: a bug in mlspec. The "
             "message gives the JSON path of the best-matching schema error. Exit code 3.",
             "Report it with the spec."),
    "E903": ("A target crashed while lowering, produced an unwritable build or declared no verdict for a "
             "feature: a bug in that target. Exit code 3.",
             "Rerun with `--debug` and report the traceback with the spec."),
}

#: cases that are not spec files: how the .expected file is produced
SPECIAL = {
    "E101-missing-file": "`mlspec check tests/diagnostics/no-such-spec.mlspec` (the file does not exist)",
    "E101-directory": "`mlspec check tests/diagnostics` (a directory)",
    "E104-too-large": "`mlspec check big.mlspec`, a spec padded with a comment to just over 1 MiB",
    "E414-too-many-steps": "`mlspec check huge.mlspec`, a pipeline with 5,001 `validate` steps",
    "E404-symlink-escape": "`mlspec check spec.mlspec` where `src/train.py` is a symbolic link to "
                           "`../elsewhere/train.py`, outside the spec's folder",
    "E901-internal-error": "any command when the compiler itself fails (provoked in the test)",
    "E902-invalid-ir": "`mlspec ir` when the IR fails its schema (provoked in the test)",
}


def _cases(code: str) -> list[tuple[str, Path | None, Path]]:
    out = []
    for exp in sorted(HERE.glob(f"{code}-*.expected")) + sorted((HERE / "targets").glob(f"{code}-*.expected")):
        spec = exp.with_suffix(".mlspec")
        out.append((exp.stem, spec if spec.exists() else None, exp))
    return out


def _visible(c: str) -> str:
    import unicodedata

    if c in "\n\t":
        return c
    if ord(c) < 32 or ord(c) == 0x7F or unicodedata.category(c) in ("Cf", "Cs", "Co"):
        return f"<U+{ord(c):04X}>"
    return c


def _fence(text: str, lang: str = "") -> str:
    fence = "````" if "```" in text else "```"
    return f"{fence}{lang}\n{text if text.endswith(chr(10)) else text + chr(10)}{fence}\n"


def render() -> str:
    parts = [
        "# mlspec diagnostics\n",
        "Every message mlspec prints has a code, and every code has an entry here: what it means, a minimal "
        "spec that triggers it, the exact message `mlspec check` prints for that spec, and the fix. The "
        "examples are the golden test cases in `tests/diagnostics/`, so this page always shows what the "
        "compiler really says (it is generated from them: `pytest tests/diagnostics --update-golden`).\n",
        "Codes are grouped by stage: **E1xx** reading and syntax, **E2xx** names and references, **E3xx** "
        "types, units and values, **E4xx** policy and semantics, **E5xx** targets, **E9xx** internal errors "
        "(bugs in mlspec, exit code 3); **W** codes are warnings (exit code 0). Codes are never reused.\n",
        "Syntax errors stop at the first one in a file; all other errors are reported together, sorted by "
        "position and capped at 50 (`… and N more`). `--format json` prints the same records.\n",
        "| Code | Title |\n|---|---|\n" + "".join(f"| [{c}](#{c.lower()}) | {t} |\n" for c, t in CODES.items()),
    ]
    for code, title in CODES.items():
        meaning, fix = EXPLAIN[code]
        parts.append(f'<a id="{code.lower()}"></a>\n\n## {code}: {title}\n\n{meaning}\n')
        for stem, spec, exp in _cases(code):
            where = (spec.relative_to(ROOT).as_posix() if spec else None)
            if spec is not None:
                raw = spec.read_bytes()
                try:
                    text, note = raw.decode("utf-8"), ""
                except UnicodeDecodeError:
                    text = raw.decode("utf-8", "backslashreplace")
                    note = ("The file is not valid UTF-8: bytes that do not decode are shown as `\\xNN`, "
                            "other invisible characters as `<U+XXXX>`.\n\n")
                shown = "".join(_visible(c) for c in text)
                if shown != text and not note:
                    note = "Invisible and control characters are shown as `<U+XXXX>`.\n\n"
                body = note + _fence(shown, "hcl")
                how = ("" if spec.parent == HERE else
                       ", compiled with `mlspec compile --target fake`; Fake Cloud is a test target "
                       "(tests/diagnostics/test_special_diagnostics.py) that refuses some features on purpose")
                parts.append(f"Example (`{where}`{how}):\n\n{body}")
            else:
                parts.append(f"Example: {SPECIAL.get(stem, stem)}.\n")
            parts.append("prints:\n\n" + _fence(exp.read_text(encoding="utf-8"), "text"))
        parts.append(f"**Fix:** {fix}\n")
    return "\n".join(parts)


if __name__ == "__main__":  # pragma: no cover
    DOC.write_text(render(), encoding="utf-8")
