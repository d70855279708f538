"""The text renderer: carets line up under the span whatever the line holds (tabs, wide
characters, invisible characters, very long lines), secrets are masked in every
snippet, labels on the primary line share its caret line, and output is capped."""
from __future__ import annotations

from mlspec.compiler.diagnostics import Diagnostic, Label, render_text
from mlspec.compiler.source import SourceFile


def _render(text: str, start: int, end: int, code: str = "E204", labels=(), **kw) -> str:
    src = SourceFile("t.mlspec", text)
    d = Diagnostic(code, "summary", src.span(start, end), labels=tuple(labels), **kw)
    return render_text([d], {"t.mlspec": src})


def _caret_col(out: str, mark: str = "^") -> tuple[str, int]:
    lines = out.splitlines()
    i = next(k for k, line in enumerate(lines) if mark in line and line.lstrip().startswith("|"))
    return lines[i - 1], lines[i].index(mark)


def test_caret_under_the_span_after_wide_characters():
    text = 'description = "中文說明" x = trian\n'
    at = text.index("trian")
    src_line, col = _caret_col(_render(text, at, at + 5))
    # each CJK character takes two terminal cells
    assert src_line.index("trian") + 4 == col  # 4 extra cells for 4 wide characters


def test_invisible_characters_are_shown_and_carets_still_line_up():
    text = 'a = "x\u202ey" b = trian\n'
    at = text.index("trian")
    src_line, col = _caret_col(_render(text, at, at + 5))
    assert "<U+202E>" in src_line and "\u202e" not in src_line
    assert src_line.index("trian") == col


def test_tabs_and_long_lines():
    text = "\tx = " + "y" * 500 + " trian\n"
    at = text.index("trian")
    out = _render(text, at, at + 5)
    src_line, col = _caret_col(out)
    assert src_line.endswith("trian") or "trian" in src_line
    assert src_line.index("trian") == col
    assert len(src_line) < 220 and "…" in src_line


def test_secret_masked_in_every_snippet():
    text = 'channel c { slack = "https://hooks.slack.com/services/T0/B0/XYZ" }\n'
    a = text.index('"')
    b = text.index('"', a + 1) + 1
    src = SourceFile("t.mlspec", text)
    diags = [Diagnostic("E402", "literal secret (value redacted)", src.span(a, b)),
             Diagnostic("W201", "channel `c` is never notified", src.span(8, 9))]
    out = render_text(diags, {"t.mlspec": src})
    assert "hooks.slack.com" not in out and out.count('"<redacted>"') == 2


def test_label_on_the_same_line_shares_the_caret_line():
    text = "autoscale { min = 5  max = 2 }\n"
    src = SourceFile("t.mlspec", text)
    lo, hi = text.index("5"), text.index("2")
    out = _render(text, lo, lo + 1, "E306", [Label(src.span(hi, hi + 1), "maximum set here")])
    assert "^        - maximum set here" in out
    assert out.count("autoscale {") == 1


def test_cap_and_summary_line():
    src = SourceFile("t.mlspec", "x\n" * 60)
    diags = [Diagnostic("E201", f"unknown attribute `x{i}`", src.span(2 * i, 2 * i + 1)) for i in range(60)]
    diags.append(Diagnostic("W201", "unused", src.span(0, 1)))
    out = render_text(diags, {"t.mlspec": src})
    assert out.endswith("… and 11 more\n\n60 errors, 1 warning\n")
    assert out.count("error[E201]") == 50


def test_whole_file_diagnostic_has_no_line_number():
    from mlspec.compiler.source import Span

    d = Diagnostic("E101", "`x.mlspec` does not exist", Span("x.mlspec", 1, 1, 1, 1, 0, 0))
    assert render_text([d], {}).startswith("x.mlspec: error[E101]: ")


def test_user_text_in_messages_stays_on_one_line():
    src = SourceFile("t.mlspec", "x\n")
    d = Diagnostic("E406", "`MLS\n-1\x1b[31m\u202e` is not a security rule mlspec knows", src.span(0, 1),
                   hint="a\nb")
    out = render_text([d], {"t.mlspec": src})
    assert "\x1b" not in out and "\u202e" not in out
    assert out.splitlines()[0].endswith("is not a security rule mlspec knows")
    assert "= hint: a<U+000A>b" in out
