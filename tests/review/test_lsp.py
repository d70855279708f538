"""`mlspec lsp` over a pipe (JSON-RPC, as an editor talks to it), and the TextMate grammar:
both built from the vocabulary the checker itself asks for (mlspec.compiler.vocab)."""
from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading

import pytest

from mlspec.compiler.cli import main
from testkit import ROOT, SPECS

FRAUD = ROOT / "specs" / "fraud_detection.mlspec"


class Client:
    """A minimal LSP client: Content-Length framed JSON-RPC over the server's stdin/stdout."""

    def __init__(self):
        self.p = subprocess.Popen([sys.executable, "-m", "mlspec.compiler.cli", "lsp"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.q: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        out = self.p.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                k, _, v = line.decode().partition(":")
                headers[k.strip().lower()] = v.strip()
            self.q.put(json.loads(out.read(int(headers["content-length"]))))

    def send(self, method, params, request=True):
        msg = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            msg["id"] = self.next_id
        body = json.dumps(msg).encode()
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.p.stdin.flush()
        return msg.get("id")

    def wait(self, pred, limit=60):
        while True:
            msg = self.q.get(timeout=limit)  # a safety net against a hung server, not a timing assert
            if pred(msg):
                return msg

    def request(self, method, params):
        i = self.send(method, params)
        return self.wait(lambda m: m.get("id") == i)

    def close(self):
        try:
            self.request("shutdown", None)
            self.send("exit", None, request=False)
            self.p.wait(timeout=30)
        finally:
            if self.p.poll() is None:
                self.p.kill()
            self.p.stdin.close()
            self.p.stdout.close()
            self.p.stderr.close()


@pytest.fixture
def client():
    pytest.importorskip("pygls")
    c = Client()
    init = c.request("initialize", {"processId": None, "rootUri": ROOT.as_uri(), "capabilities": {}})
    caps = init["result"]["capabilities"]
    assert caps["hoverProvider"] and "." in caps["completionProvider"]["triggerCharacters"]
    c.send("initialized", {}, request=False)
    yield c
    c.close()


def _pos(text: str, needle: str, delta: int = 0) -> dict:
    i = text.index(needle) + delta
    return {"line": text.count("\n", 0, i), "character": i - text.rfind("\n", 0, i) - 1}


def test_diagnostics_on_open_and_change_hover_and_completion(client):
    uri = FRAUD.as_uri()
    text = FRAUD.read_text()
    client.send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "mlspec", "version": 1,
                                                          "text": text}}, request=False)
    diags = client.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")["params"]
    assert diags["uri"] == uri and diags["diagnostics"] == []

    bad = text.replace("instances = 2", "instancez = 2")
    client.send("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                           "contentChanges": [{"text": bad}]}, request=False)
    diags = client.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")["params"]["diagnostics"]
    assert len(diags) == 1
    d = diags[0]
    assert d["code"] == "E201" and d["severity"] == 1
    assert d["message"].startswith("unknown attribute `instancez` in endpoint `scoring`\nhint: did you mean `instances`?")
    assert d["range"]["start"] == _pos(bad, "instancez")
    assert d["range"]["end"] == _pos(bad, "instancez", len("instancez"))

    hov = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": _pos(bad, "max_disparity", 3)})
    value = hov["result"]["contents"]["value"]
    assert "**`max_disparity`** (number)" in value and "a `bias_check` step (required)" in value
    hov = client.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": _pos(bad, "rollout = canary", 11)})
    assert "`initial`*" in hov["result"]["contents"]["value"]

    comp = client.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                      "position": _pos(bad, "autoscale { min", len("autoscale { "))})
    labels = {i["label"] for i in comp["result"]["items"]}
    assert labels == {"min", "max", "target_rps", "target_cpu"}

    # a reference being typed (the buffer does not parse): names declared in the document
    typing = bad.replace("baseline  = dataset.transactions", "baseline  = dataset.")
    client.send("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3},
                                           "contentChanges": [{"text": typing}]}, request=False)
    client.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")
    comp = client.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                      "position": _pos(typing, "baseline  = dataset.", 20)})
    assert [i["label"] for i in comp["result"]["items"]] == ["transactions"]


def test_completion_contexts():
    from mlspec.compiler import lsp

    text = FRAUD.read_text()

    def labels(needle, delta):
        return {c[0] for c in lsp.completions(text, text.index(needle) + delta)}

    top = labels("  kpi fraud_losses", 2)
    assert {"owner", "description", "labels", "dataset", "pipeline", "endpoint", "waive", "target"} <= top
    assert {"step", "gate", "schedule", "retrain_on"} <= labels("    schedule   = cron", 4)
    assert labels("      require step.evaluate.metrics.f1 >= 0.95", 6) >= {"require"}
    assert {"initial", "step", "interval", "rollback_on"} == labels("initial = 5%", 0)
    assert labels("format  = parquet", len("format  = ")) == {"parquet", "csv", "jsonl", "tfrecord", "delta"}
    assert {"train", "test"} <= labels("step.prepare.outputs.train", len("step.prepare.outputs."))
    assert labels("step.train.model", len("step.train.")) == {"outputs", "model"}
    assert {"scoring"} == labels("endpoint.scoring\n    kind", len("endpoint."))
    assert {"project", "region", "network"} <= labels('target vertex { project', len("target vertex { "))


def test_vocabulary_is_what_the_checker_accepts():
    """Every attribute the vocabulary offers is accepted by `mlspec check` in its block, and every
    attribute the example specs use is offered: the two cannot drift apart."""
    from mlspec.compiler import api, vocab

    voc = vocab.vocabulary()
    for spec in SPECS:
        scopes, diags = vocab.record(spec.read_text(), str(spec))
        assert not [d for d in diags if d.is_error]
        for key, sc in scopes.items():
            assert key in voc, key
            assert set(sc.attrs) <= set(voc[key].attrs), (key, set(sc.attrs) - set(voc[key].attrs))
    # an attribute the vocabulary does not know is one the checker rejects
    bad = FRAUD.read_text().replace("autoscale { min = 2", "autoscale { colour = 1  min = 2")
    res = api.build_irs(str(FRAUD), data=bad.encode())
    assert any(d.code == "E201" and "colour" in d.summary for d in res.diagnostics)
    assert "colour" not in voc["endpoint.autoscale"].attrs
    # the checker's required attributes are marked
    assert {"initial", "interval"} == voc["rollout:canary"].required


def test_textmate_grammar_is_generated_from_the_vocabulary(capsys):
    from mlspec.compiler import vocab

    committed = (ROOT / "editors" / "mlspec.tmLanguage.json").read_text()
    assert main(["lsp", "--grammar"]) == 0
    assert capsys.readouterr().out == committed, "regenerate: mlspec lsp --grammar > editors/mlspec.tmLanguage.json"
    g = json.loads(committed)
    assert g["scopeName"] == "source.mlspec" and g["fileTypes"] == ["mlspec"]
    repo = g["repository"]
    attr = re.compile(repo["attribute"]["match"])
    for sc in vocab.vocabulary().values():
        for a in sc.attrs:
            assert attr.search(f"{a} = 1"), a
    assert not attr.search("colour = 1")
    block = re.compile(repo["block-kind"]["match"])
    for kind in ("dataset", "pipeline", "endpoint", "autoscale", "approval", "waive"):
        assert block.match(f"{kind} x {{") or block.match(f"{kind} {{"), kind
    const = re.compile(repo["constant"]["match"])
    for v in ("parquet", "customer_managed", "private", "iam", "true"):
        assert const.search(v), v
    nums = [re.compile(p["match"]) for p in repo["number"]["patterns"]]
    for lit in ("10m", "5%", "50GiB", "0.95", "-1e-3"):
        assert any(n.fullmatch(lit) for n in nums), lit
    # every pattern is a valid regular expression; the comment rule wins over the rest on a comment line
    for rule in repo.values():
        for p in [rule] + rule.get("patterns", []):
            for k in ("match", "begin", "end"):
                if k in p:
                    re.compile(p[k])
    assert re.match(repo["comment"]["match"], "# a comment")


def test_lsp_without_pygls_says_how_to_install(monkeypatch, capsys):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **kw):
        if name.startswith("mlspec.compiler.lsp") or (name == "mlspec.compiler" and a and "lsp" in (a[2] or ())):
            raise ImportError("No module named 'pygls'")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)
    assert main(["lsp"]) == 2
    assert "pip install 'mlspec[lsp]'" in capsys.readouterr().err
