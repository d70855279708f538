"""`mlspec graph`: the system as a picture, in Mermaid, Graphviz DOT or SVG.

Input: one environment's IR (or, with a target, the resources `mlspec plan` would create).
Output: a :class:`Graph` of nodes, edges and groups, rendered by :func:`mermaid`, :func:`dot`
or :func:`svg`. SVG is laid out here (longest-path layers, barycentre ordering), so no
Graphviz binary is needed. Every piece of spec text is escaped for the format it lands in:
labels are data, never markup (a name or description cannot inject Mermaid, DOT or SVG).
Output is deterministic.
"""
from __future__ import annotations

import dataclasses
import html

from mlspec.compiler.check.values import duration_text


class GraphError(Exception):
    """A usage problem (exit 2)."""


@dataclasses.dataclass
class Node:
    id: str
    lines: list[str]
    kind: str
    group: str | None = None


@dataclasses.dataclass
class Edge:
    src: str
    dst: str
    label: str = ""
    dashed: bool = False


@dataclasses.dataclass
class Graph:
    title: str
    nodes: dict[str, Node] = dataclasses.field(default_factory=dict)
    edges: list[Edge] = dataclasses.field(default_factory=list)
    groups: dict[str, str] = dataclasses.field(default_factory=dict)  # group id -> label
    _edge_keys: set = dataclasses.field(default_factory=set, repr=False, compare=False)  # edges already added

    def node(self, ident: str, lines: list[str], kind: str, group: str | None = None) -> str:
        if ident not in self.nodes:
            self.nodes[ident] = Node(ident, [str(x) for x in lines], kind, group)
        return ident

    def edge(self, src: str, dst: str, label: str = "", dashed: bool = False) -> None:
        if src in self.nodes and dst in self.nodes:
            key = (src, dst, label, dashed)
            if key not in self._edge_keys:  # a set, not `in self.edges`: linear in the spec size
                self._edge_keys.add(key)
                self.edges.append(Edge(src, dst, label, dashed))


#: fill colours per node kind (Mermaid classDef, DOT fillcolor, SVG fill)
COLOURS = {
    "trigger": "#eeeeee", "dataset": "#e3f2fd", "step": "#ffffff", "gate": "#fff3cd", "register": "#e8f5e9",
    "model": "#c8e6c9", "approval": "#ffe0b2", "endpoint": "#bbdefb", "batch": "#bbdefb", "alert": "#ffcdd2",
    "monitor": "#f3e5f5", "channel": "#f5f5f5", "resource": "#ffffff",
}


# --------------------------------------------------------------------------- from the IR


def _pct(x) -> str:
    return f"{x:g}%"


def rollout_text(r: dict) -> str:
    s = r["strategy"]
    if s == "canary":
        return f"canary {_pct(r['initial_percent'])}, then +{_pct(r['step_percent'])} every {duration_text(r['interval_s'])}"
    if s == "linear":
        return f"linear +{_pct(r['step_percent'])} every {duration_text(r['interval_s'])}"
    if s == "blue_green":
        return f"blue/green, bake {duration_text(r['bake_s'])}"
    if s == "shadow":
        return f"shadow {_pct(r['sample_percent'])} for {duration_text(r['duration_s'])}" + \
            (f", then {r['promote'].replace('_', ' ')}" if r.get("promote") else "")
    if s == "ab_test":
        return "A/B " + " / ".join(f"{v['name']} {_pct(v['percent'])}" for v in r["variants"])
    return "all at once"


def _short(ident: str) -> str:
    return ident.split(".", 1)[-1]


def from_ir(ir: dict, pipeline: str | None = None) -> Graph:
    """Pipelines (trigger, steps, gates, registration), models with their approval, the deployment
    path (endpoint rollout, alerts that roll back), monitors and what they trigger, channels."""
    g = Graph(f"{ir['system']['name']} ({ir['environment']['name']})")
    pipes = [p for p in ir["pipelines"] if pipeline is None or p["name"] == pipeline]
    if pipeline is not None and not pipes:
        names = ", ".join(p["name"] for p in ir["pipelines"]) or "none"
        raise GraphError(f"the spec declares no pipeline `{pipeline}`; it declares {names}")
    datasets = {d["id"]: d for d in ir["datasets"]}
    for p in pipes:
        grp = p["id"]
        g.groups[grp] = f"pipeline {p['name']}"
        trig = [f"run {p['name']}"]
        if p["schedule"]:
            trig.append(f"cron {p['schedule']['cron']}" + (f" {p['schedule']['timezone']}"
                                                            if p["schedule"]["timezone"] != "UTC" else ""))
        g.node(f"{grp}/start", trig, "trigger", grp)
        for s in p["steps"]:
            kind = "register" if s["kind"] == "register" else "step"
            detail = s["kind"] + (f" {s['framework']['name']} {s['framework']['version']}" if s.get("framework") else "")
            g.node(f"{grp}/{s['id']}", [s["name"], detail], kind, grp)
        for gate in p["gates"]:
            g.node(f"{grp}/{gate['id']}", [f"gate {gate['name']}"] + [r["text"] for r in gate["requires"]], "gate", grp)
        for s in p["steps"]:
            if not s["depends_on"]:
                g.edge(f"{grp}/start", f"{grp}/{s['id']}")
            for d in s["depends_on"]:
                g.edge(f"{grp}/{d}", f"{grp}/{s['id']}")
            for ref in [s.get("data")] + list(s.get("inputs") or []):
                if isinstance(ref, str) and ref in datasets:
                    d = datasets[ref]
                    g.node(ref, [f"dataset {d['name']}", f"{d['format']} {d['version']}"], "dataset")
                    g.edge(ref, f"{grp}/{s['id']}")
        for gate in p["gates"]:
            for d in gate["depends_on"]:
                g.edge(f"{grp}/{d}", f"{grp}/{gate['id']}")
    models = [m for m in ir["models"] if pipeline is None or any(p["id"] == m["pipeline"] for p in pipes)]
    for m in models:
        g.node(m["id"], [f"model {m['name']}", f"{m['framework']['name']} {m['framework']['version']}"], "model")
        if m["pipeline"] and m["registered_by"]:
            g.edge(f"{m['pipeline']}/{m['registered_by']}", m["id"], "registers")
        a = m["approval"]
        if a["required"]:
            who = ", ".join(a["approvers"]) or "any approver"
            g.node(f"{m['id']}/approval", ["approval", f"{a['count']} of {who}"], "approval")
            g.edge(m["id"], f"{m['id']}/approval", "new version")
    if pipeline is not None:
        return g
    for e in ir["endpoints"]:
        auto = e["autoscale"]
        lines = [f"endpoint {e['name']}", f"rollout: {rollout_text(e['rollout'])}",
                 f"{e['compute']['class']} x{e['compute']['instance_count']}"
                 + (f", autoscale {auto['min']}-{auto['max']}" if auto else "")]
        g.node(e["id"], lines, "endpoint")
        models_served = [e["model"]] + [v["model"] for v in (e["rollout"].get("variants") or [])]
        for mid in dict.fromkeys(models_served):
            m = next((x for x in ir["models"] if x["id"] == mid), None)
            if m is None:
                continue
            if m["approval"]["required"]:
                g.edge(f"{mid}/approval", e["id"], "approved: deploy")
            else:
                g.edge(mid, e["id"], "deploy (no approval)")
    for b in ir["batch"]:
        sched = f"cron {b['schedule']['cron']}" if b["schedule"] else "on demand"
        g.node(b["id"], [f"batch {b['name']}", sched], "batch")
        g.edge(b["model"], b["id"], "scores with")
        if b["data"] in datasets:
            d = datasets[b["data"]]
            g.node(b["data"], [f"dataset {d['name']}", f"{d['format']} {d['version']}"], "dataset")
            g.edge(b["data"], b["id"])
    for a in ir["alerts"]:
        value = f"{a['value']:g}" + {"ms": "ms", "percent": "%", "rps": " rps"}.get(a["unit"], f" {a['unit']}")
        g.node(a["id"], [f"alert {a['name']}", f"{a['metric']} {a['comparison']} {value} for {duration_text(a['for_s'])}"],
               "alert")
        g.edge(a["endpoint"], a["id"], dashed=True)
        for ep in a["rollback_for"]:
            g.edge(a["id"], ep, "rolls back", dashed=True)
    for mo in ir["monitors"]:
        br = mo["breach"]
        cond = " ".join(x for x in (f"above {br['above']:g}" if br["above"] is not None else "",
                                    f"below {br['below']:g}" if br["below"] is not None else "") if x)
        g.node(mo["id"], [f"monitor {mo['name']}", f"{mo['kind']} {mo['metric']} {cond}".strip(),
                          f"every {duration_text(mo['every_s'])}"], "monitor")
        g.edge(mo["endpoint"], mo["id"], dashed=True)
        for p in mo["retrains"]:
            g.edge(mo["id"], f"{p}/start", "retrains")
    for c in ir["channels"]:
        used = [x for x in ir["alerts"] + ir["monitors"] if c["id"] in x["notify"]]
        if used:
            g.node(c["id"], [f"channel {c['name']}", c["type"]], "channel")
            for x in used:
                g.edge(x["id"], c["id"], "notifies", dashed=True)
    return g


def from_plan(plan_json: dict) -> Graph:
    """The cloud resources of a plan, grouped by concern, an edge from each dependency."""
    g = Graph(f"{plan_json['target']} resources ({plan_json['environment']})")
    for r in plan_json["resources"]:
        grp = f"concern/{r['concern']}"
        g.groups[grp] = r["concern"]
        short = r["type"].split(":")[1] if r["type"].count(":") >= 2 else r["type"]
        g.node(f"r/{r['name']}", [r["name"], short], "resource", grp)
    for r in plan_json["resources"]:
        for d in r["depends_on"]:
            g.edge(f"r/{d}", f"r/{r['name']}")
    return g


# --------------------------------------------------------------------------- Mermaid

_MERMAID_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.:_-+/=%()*")


def mermaid_text(s: str) -> str:
    """Spec text inside a quoted Mermaid label: anything that is not plainly safe becomes an
    entity code (`#34;`), so quotes, brackets, pipes, `%%`, HTML and `click` cannot escape."""
    out = "".join(ch if ch in _MERMAID_SAFE else f"#{ord(ch)};" for ch in s)
    return out.replace("%%", "#37;#37;")


def _ids(g: Graph) -> dict[str, str]:
    return {k: f"n{i}" for i, k in enumerate(g.nodes)}


_MERMAID_SHAPES = {"gate": ('{{"', '"}}'), "model": ('[("', '")]'), "endpoint": ('(["', '"])'),
                   "approval": ('[/"', '"\\]'), "trigger": ('>"', '"]'),
                   "dataset": ('[("', '")]'), "monitor": ('[["', '"]]'), "alert": ('{{"', '"}}')}


def mermaid(g: Graph) -> str:
    ids = _ids(g)
    out = ["flowchart LR"]

    def node_line(n: Node, indent: str) -> str:
        a, b = _MERMAID_SHAPES.get(n.kind, ('["', '"]'))
        label = "<br/>".join(mermaid_text(x) for x in n.lines)
        return f"{indent}{ids[n.id]}{a}{label}{b}"

    for gid, glabel in g.groups.items():
        out.append(f'  subgraph g{list(g.groups).index(gid)}["{mermaid_text(glabel)}"]')
        out.append("    direction LR")
        for n in g.nodes.values():
            if n.group == gid:
                out.append(node_line(n, "    "))
        out.append("  end")
    for n in g.nodes.values():
        if n.group is None:
            out.append(node_line(n, "  "))
    for e in g.edges:
        arrow = "-.->" if e.dashed else "-->"
        label = f'|"{mermaid_text(e.label)}"|' if e.label else ""
        out.append(f"  {ids[e.src]} {arrow}{label} {ids[e.dst]}")
    kinds = sorted({n.kind for n in g.nodes.values()})
    for k in kinds:
        out.append(f"  classDef {k} fill:{COLOURS.get(k, '#ffffff')},stroke:#555555")
        out.append(f"  class {','.join(ids[n.id] for n in g.nodes.values() if n.kind == k)} {k}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- DOT


def dot_text(s: str) -> str:
    """Spec text inside a double-quoted DOT string (backslash escapes would otherwise be
    interpreted: `\\l`, `\\N`, `\\G`)."""
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ")


_DOT_SHAPES = {"gate": "hexagon", "model": "cylinder", "dataset": "cylinder", "endpoint": "box", "approval": "parallelogram",
               "trigger": "cds", "monitor": "box", "alert": "octagon", "channel": "note", "register": "box"}


def dot(g: Graph) -> str:
    ids = _ids(g)
    out = ["digraph mlspec {", "  rankdir=LR;", f'  label="{dot_text(g.title)}";',
           '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
           '  edge [fontname="Helvetica", fontsize=9];']

    def node_line(n: Node, indent: str) -> str:
        label = "\\n".join(dot_text(x) for x in n.lines)
        return (f'{indent}{ids[n.id]} [label="{label}", shape={_DOT_SHAPES.get(n.kind, "box")}, '
                f'fillcolor="{COLOURS.get(n.kind, "#ffffff")}"];')

    for i, (gid, glabel) in enumerate(g.groups.items()):
        out.append(f"  subgraph cluster_{i} {{")
        out.append(f'    label="{dot_text(glabel)}"; style="rounded,dashed";')
        out.extend(node_line(n, "    ") for n in g.nodes.values() if n.group == gid)
        out.append("  }")
    out.extend(node_line(n, "  ") for n in g.nodes.values() if n.group is None)
    for e in g.edges:
        attrs = []
        if e.label:
            attrs.append(f'label="{dot_text(e.label)}"')
        if e.dashed:
            attrs.append("style=dashed")
        out.append(f"  {ids[e.src]} -> {ids[e.dst]}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    out.append("}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- SVG (own layout)

CHAR_W, LINE_H, PAD, GAP_X, GAP_Y = 7.2, 15, 8, 60, 18


def layout(g: Graph) -> dict[str, tuple[float, float, float, float]]:
    """Node boxes (x, y, w, h): layers by longest path over the graph with its cycles broken
    (depth-first, in declaration order), rows ordered by group then by the mean row of each
    node's predecessors (two sweeps)."""
    order = list(g.nodes)
    succ: dict[str, list[str]] = {k: [] for k in order}
    for e in g.edges:
        succ[e.src].append(e.dst)
    state: dict[str, int] = {}
    forward: list[tuple[str, str]] = []

    for root in order:  # iterative DFS: 1 on stack, 2 done
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            v, it = stack[-1]
            w = next(it, None)
            if w is None:
                state[v] = 2
                stack.pop()
            elif state.get(w) == 1:
                continue  # a back edge: ignored for layering
            else:
                forward.append((v, w))
                if w not in state:
                    state[w] = 1
                    stack.append((w, iter(succ[w])))
    preds: dict[str, list[str]] = {k: [] for k in order}
    for v, w in forward:
        preds[w].append(v)
    layer: dict[str, int] = {}

    def depth(v: str) -> int:  # longest path from a source; iterative to avoid recursion limits
        todo = [v]
        while todo:
            x = todo[-1]
            missing = [p for p in preds[x] if p not in layer]
            if missing:
                todo.extend(missing)
                continue
            layer[x] = max((layer[p] + 1 for p in preds[x]), default=0)
            todo.pop()
        return layer[v]

    for v in order:
        depth(v)
    layers: dict[int, list[str]] = {}
    gorder = {gid: i for i, gid in enumerate(g.groups)}
    for v in sorted(order, key=lambda v: (gorder.get(g.nodes[v].group, len(gorder)), order.index(v))):
        layers.setdefault(layer[v], []).append(v)
    for _ in range(2):
        pos = {v: i for vs in layers.values() for i, v in enumerate(vs)}
        for li in sorted(layers):
            if li == 0:
                continue
            def bary(v: str) -> float:
                ps = [pos[p] for p in preds[v]]
                return sum(ps) / len(ps) if ps else pos[v]
            layers[li].sort(key=lambda v: (bary(v), pos[v]))
            pos.update({v: i for i, v in enumerate(layers[li])})
    size = {v: (max(len(x) for x in n.lines) * CHAR_W + 2 * PAD, len(n.lines) * LINE_H + PAD)
            for v, n in g.nodes.items()}
    heights = {li: sum(size[v][1] for v in vs) + GAP_Y * (len(vs) - 1) for li, vs in layers.items()}
    tallest = max(heights.values(), default=0)
    boxes = {}
    x = 20.0
    for li in sorted(layers):
        w = max(size[v][0] for v in layers[li])
        y = 40.0 + (tallest - heights[li]) / 2
        for v in layers[li]:
            boxes[v] = (x + (w - size[v][0]) / 2, y, size[v][0], size[v][1])
            y += size[v][1] + GAP_Y
        x += w + GAP_X
    return boxes


def _f(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def svg(g: Graph) -> str:
    """A standalone SVG document; all text goes through XML escaping."""
    esc = lambda s: html.escape(s, quote=True)  # noqa: E731
    boxes = layout(g)
    width = max((x + w for x, y, w, h in boxes.values()), default=200) + 20
    height = max((y + h for x, y, w, h in boxes.values()), default=60) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(width)}" height="{_f(height)}" '
           f'viewBox="0 0 {_f(width)} {_f(height)}" font-family="monospace" font-size="12">',
           f"<title>{esc(g.title)}</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
           '<rect width="100%" height="100%" fill="#ffffff"/>',
           f'<text x="20" y="24" font-size="14" font-weight="bold">{esc(g.title)}</text>']
    for gid, glabel in g.groups.items():
        members = [boxes[v] for v, n in g.nodes.items() if n.group == gid]
        if not members:
            continue
        x0 = min(b[0] for b in members) - 8
        y0 = min(b[1] for b in members) - 8
        x1 = max(b[0] + b[2] for b in members) + 8
        y1 = max(b[1] + b[3] for b in members) + 8
        out.append(f'<g class="group"><rect x="{_f(x0)}" y="{_f(y0)}" width="{_f(x1 - x0)}" height="{_f(y1 - y0)}" '
                   f'rx="8" fill="none" stroke="#999" stroke-dasharray="4 3"/>'
                   f'<text x="{_f(x0 + 4)}" y="{_f(y0 - 3)}" font-size="10" fill="#555">{esc(glabel)}</text></g>')
    for e in g.edges:
        sx, sy, sw, sh = boxes[e.src]
        tx, ty, tw, th = boxes[e.dst]
        dash = ' stroke-dasharray="5 3"' if e.dashed else ""
        if tx > sx:
            x1, y1, x2, y2 = sx + sw, sy + sh / 2, tx, ty + th / 2
            mx = (x1 + x2) / 2
            d = f"M{_f(x1)},{_f(y1)} C{_f(mx)},{_f(y1)} {_f(mx)},{_f(y2)} {_f(x2)},{_f(y2)}"
            lx, ly = mx, (y1 + y2) / 2 - 3
        else:  # a back edge (retrain, rollback): around the bottom
            x1, y1, x2, y2 = sx + sw / 2, sy + sh, tx + tw / 2, ty + th
            low = max(y1, y2) + 40
            d = f"M{_f(x1)},{_f(y1)} C{_f(x1)},{_f(low)} {_f(x2)},{_f(low)} {_f(x2)},{_f(y2)}"
            lx, ly = (x1 + x2) / 2, low - 8
        out.append(f'<path d="{d}" fill="none" stroke="#555"{dash} marker-end="url(#arrow)"/>')
        if e.label:
            out.append(f'<text x="{_f(lx)}" y="{_f(ly)}" font-size="9" text-anchor="middle" fill="#333">'
                       f"{esc(e.label)}</text>")
    for v, n in g.nodes.items():
        x, y, w, h = boxes[v]
        rx = 14 if n.kind in ("endpoint", "trigger") else 4
        out.append(f'<g class="node {esc(n.kind)}"><rect x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}" '
                   f'rx="{rx}" fill="{COLOURS.get(n.kind, "#ffffff")}" stroke="#555"/>')
        for i, line in enumerate(n.lines):
            weight = ' font-weight="bold"' if i == 0 else ""
            out.append(f'<text x="{_f(x + PAD)}" y="{_f(y + PAD / 2 + LINE_H * (i + 1) - 3)}"{weight}>{esc(line)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


RENDERERS = {"mermaid": mermaid, "dot": dot, "svg": svg}


# --------------------------------------------------------------------------- entry points


def choose_env(irs: dict[str, dict]) -> str:
    """The environment a single picture shows: the first production one, else the first."""
    return next((e for e, ir in irs.items() if ir["environment"]["production"]), next(iter(irs)))
