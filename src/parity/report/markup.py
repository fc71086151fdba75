"""The report's HTML pieces: escaping, numbers and ratios for people, tables that scroll in their own box, plots
embedded in the page."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from parity.report.tables import ratio_number

__all__ = ["catalog_id", "esc", "figure", "in_words", "num", "rate", "sentence", "signed", "table", "times"]


def esc(text: object) -> str:
    return html.escape(str(text))


def catalog_id(name: str) -> str:
    """A catalog id kept on one line (a table never breaks 'huawei-ascend-910c' at its hyphens)."""
    return f"<span class='id'>{esc(name)}</span>"


def num(value: float, digits: int = 0) -> str:
    if value is None or value != value:  # NaN
        return "-"
    return f"{value:,.{digits}f}"


def times(value: float) -> str:
    """A ratio as the command line spells it ('12.28x', '3,411x', '0.00029x': tables.ratio_number)."""
    return "-" if value is None or value != value else f"{ratio_number(value)}x"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], cls: str = "", caption: str = "",
          stack: str = "", notes: int | None = None) -> str:
    """A table in a box of its own: column headers with scope='col', each row's first cell its header (<th
    scope='row'>: the system, chip or figure it is about) and `caption` (text: what the table holds, for a screen
    reader; the heading and the paragraph above say it on the page). `stack`: a STACKED class ('stack-wide',
    'stack-mid'), under whose width each row is laid out as a block of labelled cells (page.STYLE), the cells
    carrying their column's header in data-label and the ARIA roles a table keeps where CSS changes its display.
    `notes`: the index of a free-text column (a row's notes), which a stacked row gives a line of its own and
    leaves out where it is empty."""
    roles = bool(stack)

    def role(name: str) -> str:
        return f" role='{name}'" if roles else ""

    # a header may break after a slash ("memory/ system"), so units need not widen their column
    head = "".join(f"<th scope='col'{role('columnheader')}>{esc(h).replace('/', '/<wbr>')}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, c in enumerate(row):
            label = f" data-label='{esc(' '.join(str(headers[i]).split()))}'" if stack else ""
            empty = str(c) in ("", "&nbsp;")
            kind = (" class='notes" + (" empty'" if empty else "'")) if i == notes else ""
            cells.append(f"<th scope='row'{role('rowheader')}>{c}</th>" if i == 0 else
                         f"<td{kind}{label}{role('cell')}>{c}</td>")
        body.append(f"<tr{role('row')}>{''.join(cells)}</tr>")
    classes = " ".join(filter(None, (cls, stack)))
    said = f"<caption class='hidden'>{esc(caption)}</caption>" if caption else ""
    # a wide table scrolls inside its own box rather than pushing the page sideways (a stacked one never needs to)
    return (f'<div class="wide"><table class="{classes}"{role("table")}>{said}<thead{role("rowgroup")}><tr'
            f'{role("row")}>{head}</tr></thead><tbody{role("rowgroup")}>{"".join(body)}</tbody></table></div>')


def figure(path: Path, alt: str, caption: str) -> str:
    """A plot embedded in the page; `caption` (HTML) says what it shows and what it rests on."""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}"><figcaption>{caption} ' \
           f'(<a href="{esc(path.name)}">{esc(path.name)}</a>)</figcaption></figure>'


def in_words(value: float) -> str:
    """A large count in words: 2e12 -> '2 trillion', 3.5e9 -> '3.5 billion'; below a million, digits."""
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(value) >= size:
            return f"{value / size:,.3g} {word}"
    return num(value)


def rate(value: float) -> str:
    """A rate for people: whole numbers from 100 up (1,497), three significant figures below (43.2, 0.512)."""
    if value is None or value != value:
        return "-"
    return num(value) if abs(value) >= 100 else f"{value:.3g}"


def sentence(text: str) -> str:
    """Text as a sentence: a capital first letter and a full stop."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def signed(value: float) -> str:
    """A signed share for people: +1.1%, -9.0% (a bias's sign says which way the model leans)."""
    return "-" if value is None or value != value else f"{100.0 * value:+.1f}%"
