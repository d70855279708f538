"""The grammar builds as strict LALR (no shift/reduce or regex collisions) and typed literals lex right."""
from lark import Lark

from mlspec.compiler import parse


def test_grammar_is_strict_lalr():
    parse.enable_grammar_checks()  # mlspec imports lark without interegular (compile speed); strict mode needs it
    Lark(parse.grammar_text(), parser="lalr", lexer="contextual", strict=True, maybe_placeholders=False)


def _attr(text):
    module, _src, diags = parse.parse_bytes(f"system s {{ x = {text} }}".encode(), "t.mlspec")
    assert diags == []
    return module.system.items[0].value


def test_typed_literals():
    assert _attr("10m").seconds == 600
    assert _attr("200ms").seconds == 0.2
    assert _attr("7d").seconds == 7 * 86400
    assert _attr("5%").value == 5.0
    assert _attr("50GiB").bytes == 50 * 2**30
    assert _attr("1.10").text == "1.10"
    assert _attr("-3").value == -3
    assert _attr('"a\\"b"').value == 'a"b'
    assert _attr('cron("0 3 * * MON")').name == "cron"
    assert _attr("step.train.model").parts == ("step", "train", "model")


def test_step_is_usable_as_attribute_name():
    v = _attr("canary { initial = 5%  step = 20%  interval = 10m }")
    assert [i.name for i in v.items] == ["initial", "step", "interval"]


def test_comments_are_collected():
    module, _src, diags = parse.parse_bytes(b'# a\nsystem s { // b\n x = "# not a comment" }\n', "t.mlspec")
    assert diags == []
    assert [c.text for c in module.comments] == ["# a", "// b"]
