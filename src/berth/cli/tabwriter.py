"""Column alignment as docker's table output does it.

docker writes tables through its fork of Go's ``text/tabwriter`` (which measures cells
with go-runewidth) set up as ``NewWriter(out, 10, 1, 3, ' ', 0)``: minimum cell width 10,
padding 3, padded with spaces. Cells are *terminated* by a tab; the text after a line's
last tab is a cell that belongs to no column and is never padded::

    CONTAINER ID\tNAMES\n         CONTAINER ID   NAMES
    abc\tweb\n              ->     abc            web

A column is the run of consecutive lines that all have a tab-terminated cell at that
index; its width is max(10, widest cell + 3). A line with fewer cells ends the run, so
the same index further down starts a new column with its own width. ``\\v`` ends a cell
like a tab and ``\\f`` ends a line and every column, as in Go.
"""

from __future__ import annotations

MIN_WIDTH = 10
PADDING = 3

Cell = tuple[str, int]  # text, display width


def align(text: str, min_width: int = MIN_WIDTH, padding: int = PADDING) -> str:
    """``text`` as docker's tabwriter prints it."""
    sections = text.split("\f")
    out: list[str] = []
    for i, section in enumerate(sections):
        last = i == len(sections) - 1
        _Formatter(_cells(section if last else section + "\n"), min_width, padding, out).run()
    return "".join(out)


def _cells(text: str) -> list[list[Cell]]:
    raw_lines = text.split("\n")
    lines: list[list[Cell]] = []
    for raw in raw_lines:
        parts = raw.replace("\v", "\t").split("\t")
        lines.append([(part, display_width(part)) for part in parts])
    # Go keeps the unterminated text of the final line only when there is some.
    if lines[-1][-1][0] == "":
        lines[-1].pop()
    return lines


class _Formatter:
    """Go's ``Writer.format``: find column blocks left to right, recursively."""

    def __init__(
        self, lines: list[list[Cell]], min_width: int, padding: int, out: list[str]
    ) -> None:
        self.lines = lines
        self.min_width = min_width
        self.padding = padding
        self.out = out
        self.widths: list[int] = []

    def run(self) -> None:
        self.format(0, len(self.lines))

    def format(self, line0: int, line1: int) -> None:
        column = len(self.widths)
        this = line0
        while this < line1:
            if column >= len(self.lines[this]) - 1:
                this += 1
                continue
            # this line has a cell in this column: a block of such lines starts here
            self.write_lines(line0, this)
            line0 = this
            width = self.min_width
            while this < line1 and column < len(self.lines[this]) - 1:
                width = max(width, self.lines[this][column][1] + self.padding)
                this += 1
            self.widths.append(width)
            self.format(line0, this)
            self.widths.pop()
            line0 = this
        self.write_lines(line0, line1)

    def write_lines(self, line0: int, line1: int) -> None:
        out, widths = self.out, self.widths
        for i in range(line0, line1):
            for j, (text, width) in enumerate(self.lines[i]):
                out.append(text)
                if j < len(widths):
                    out.append(" " * (widths[j] - width))
            if i + 1 < len(self.lines):
                out.append("\n")


def display_width(text: str) -> int:
    """go-runewidth's StringWidth: wide East Asian runes count 2, combining marks 0."""
    if text.isascii():
        if text.isprintable():
            return len(text)
        return sum(1 for ch in text if " " <= ch < "\x7f")
    import unicodedata  # only for non-ASCII cells; it costs milliseconds to import

    width = 0
    for ch in text:
        code = ord(ch)
        if code < 0x20 or 0x7F <= code <= 0x9F or code == 0xAD:
            continue
        if code >= 0x300 and (
            unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf")
        ):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width
