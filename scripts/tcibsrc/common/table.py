"""Plain-text and Markdown tables for reports."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

GAP = 2


def _fitted_widths(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None,
    wrap: Sequence[str] | None,
) -> list[int]:
    """Natural column widths, the widest narrowed (cells wrap) until the table fits `width`."""
    widths = [len(h) for h in headers]
    floors = [len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
            wrappable = wrap is None or headers[index] in wrap
            longest_word = max((len(word) for word in cell.split()), default=0)
            floors[index] = max(floors[index], longest_word if wrappable else len(cell))
    if width is None:
        return widths
    while sum(widths) + GAP * (len(widths) - 1) > width:
        candidates = [i for i, w in enumerate(widths) if w > floors[i]]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def text_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None = None,
    wrap: Sequence[str] | None = None,
) -> str:
    """Columns padded to their widest cell; the last column is not padded.

    With `width`, the widest of the `wrap` columns (default: all) wrap at spaces, so lines fit
    a terminal.
    """
    widths = _fitted_widths(headers, rows, width, wrap)

    def lines(cells: Sequence[str]) -> list[str]:
        wrapped = [
            textwrap.wrap(cell, widths[i], break_long_words=False, break_on_hyphens=False) or [""]
            for i, cell in enumerate(cells)
        ]
        out = []
        for number in range(max(len(parts) for parts in wrapped)):
            parts = [column[number] if number < len(column) else "" for column in wrapped]
            padded = [part.ljust(widths[i]) for i, part in enumerate(parts[:-1])]
            out.append((" " * GAP).join([*padded, parts[-1]]).rstrip())
        return out

    rule = (" " * GAP).join("-" * w for w in widths)
    body = [text for row in rows for text in lines(row)]
    return "\n".join([*lines(headers), rule, *body]) + "\n"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def escape(cell: str) -> str:
        return cell.replace("|", "\\|")

    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(escape(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"
