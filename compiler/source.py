"""Source text and positions.

A :class:`SourceFile` owns the decoded text of one spec and maps byte/character offsets
to lines. A :class:`Span` is a half-open range in it: 1-based line and column (columns
count characters), plus character offsets; the end is exclusive. Pure data; no I/O.
"""
from __future__ import annotations

import bisect
import dataclasses
from typing import NamedTuple


class Span(NamedTuple):
    """A half-open source range. A NamedTuple, not a dataclass: the parser makes one per
    token and node, and a tuple is four times cheaper to build than a frozen dataclass."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int
    start: int  # character offset, inclusive
    end: int  # character offset, exclusive

    def to(self, other: "Span") -> "Span":
        """The span from the start of self to the end of other."""
        return Span(self.file, self.line, self.col, other.end_line, other.end_col, self.start, other.end)

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "col": self.col,
                "end_line": self.end_line, "end_col": self.end_col}


@dataclasses.dataclass
class SourceFile:
    path: str  # as the user named it (relative when they gave a relative path)
    text: str

    def __post_init__(self) -> None:
        starts = [0]
        find = self.text.find
        i = find("\n")
        while i != -1:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self._line_starts = starts

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end == -1 else self.text[start:end]

    def position(self, offset: int) -> tuple[int, int]:
        """(line, col), both 1-based, of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        idx = bisect.bisect_right(self._line_starts, offset) - 1
        return idx + 1, offset - self._line_starts[idx] + 1

    def span(self, start: int, end: int) -> Span:
        line, col = self.position(start)
        end_line, end_col = self.position(end)
        return Span(self.path, line, col, end_line, end_col, start, end)

    def eof_span(self) -> Span:
        n = len(self.text)
        return self.span(n, n)
