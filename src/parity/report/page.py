"""The report page's look and its self-check: the style sheet, a script that records on <body> whether
the plots loaded and whether anything widens the page (the report's browser test reads these), and the mark by
which a later report knows a page parity wrote (and may replace it)."""

__all__ = ["GENERATOR", "SCRIPT", "STACKED", "STYLE", "written_by_parity"]

GENERATOR = "<meta name='generator' content='parity'>"  # in the page's <head>
_TITLE = "<title>parity report</title>"  # every report's title, the mark of those written before GENERATOR was


def written_by_parity(head: str) -> bool:
    """Whether a page whose first characters are `head` (its <head>) is a report parity wrote."""
    return GENERATOR in head or _TITLE in head

# the window widths [px] under which a table of each class is laid out a row a block of labelled cells (markup.table's
# `stack`): a comparison's 15 columns need about 1,110 px of table, the export-control and fleet tables about 810; the
# others (claims, formats, accuracy) fit a laptop's and a tablet's window, and are stacked on a phone's
STACKED = {"stack-wide": 1180, "stack-mid": 880, "stack-narrow": 640}


def _stacked(cls: str, width_px: int) -> str:
    """The style of a `cls` table in a window up to `width_px` wide: its column headers kept for screen readers but not
    shown, each row a wrapping line of cells of one width (so a column's figures still line up from row to row), each
    cell under its column's name, the row's header and its notes a line of their own."""
    t = f"table.{cls}"
    return (f"@media (max-width: {width_px}px) {{ {t}, {t} tbody {{ display: block; }} "
            f"{t} thead {{ position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }} "
            f"{t} tr {{ display: flex; flex-wrap: wrap; border-bottom: 1px solid #e3e7ef; padding: .2rem 0 .35rem; }} "
            f"{t} tr > * {{ display: block; border: none; flex: 0 0 6.6rem; box-sizing: border-box; }} "
            f"{t} tr > th {{ flex-basis: 100%; font-weight: 600; }} {t} tr > th small {{ font-weight: normal; }} "
            f"{t} td.notes {{ flex: 1 1 100%; }} "
            f"{t} td.notes.empty {{ display: none; }} "
            f"{t} td::before {{ content: attr(data-label); display: block; font-size: .68rem; color: #6b7488; "
            "line-height: 1.25; white-space: nowrap; } }\n")


STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto; max-width: 1200px;
       color: #1d2330; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 2px solid #e3e7ef; }
p.lead { color: #4a5468; }
table { border-collapse: collapse; width: 100%; font-size: .8rem; margin: .8rem 0; }
div.wide { overflow-x: auto; }
th, td { border-bottom: 1px solid #e3e7ef; padding: .3rem .35rem; text-align: left; vertical-align: top; }
thead th { background: #f4f6fa; font-weight: 600; }
tbody th { font-weight: normal; }  /* a row's header: its system, chip or figure, set as the other cells */
/* free text wraps between words, and inside a word only where the word alone is wider than its column */
td { white-space: normal; overflow-wrap: break-word; }
td.notes { min-width: 8rem; }
table.numbers td { font-variant-numeric: tabular-nums; }
tbody th b { white-space: nowrap; }  /* a system's name is never broken at its hyphens */
caption.hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
/* plots shrink to a narrow screen instead of widening the page */
figure { display: inline-block; margin: .5rem 1rem .5rem 0; width: 562px; max-width: 100%; vertical-align: top; }
img { width: 100%; height: auto; border: 1px solid #e3e7ef; box-sizing: border-box; }
figcaption { font-size: .8rem; color: #4a5468; }
/* a key figure stands out in weight, not in the links' blue: it is not a link */
.key { font-weight: 700; } small { color: #6b7488; }
/* two columns of sources with room for the second column's numbers; long URLs wrap */
ol.sources { font-size: .8rem; columns: 2; column-gap: 3rem; }
ol.sources li { break-inside: avoid; overflow-wrap: anywhere; }
ol.contents { columns: 2; column-gap: 3rem; } ol.contents li { break-inside: avoid; }
@media (max-width: 720px) { ol.sources, ol.contents { columns: 1; } body { margin: 1rem auto; } }
#plots-status { font-size: .75rem; color: #6b7488; }
.id { white-space: nowrap; }  /* a catalog id is never broken at its hyphens */
p.legend { margin-top: -.4rem; line-height: 1.35; }
h3 { font-size: 1rem; margin-bottom: .3rem; }
details { font-size: .85rem; } details summary { cursor: pointer; color: #0b5cad; }
ul.figures li { overflow-wrap: anywhere; font-size: .75rem; }
""" + "".join(_stacked(cls, width_px) for cls, width_px in STACKED.items())

SCRIPT = """
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.length > 0 && images.every(function (i) { return i.complete && i.naturalWidth > 0; });
  var status = document.getElementById('plots-status');
  // the plots are embedded in the page: where this browser shows none, the PNG files beside it hold the same
  status.textContent = ok ? '' : 'Some plots did not show here: the PNG files beside index.html hold the same plots.';
  document.body.setAttribute('data-plots', ok ? 'loaded' : 'missing');
  document.body.setAttribute('data-plot-count', String(images.length));
  // the page's own width: wider than the window means something pushes the page sideways
  document.body.setAttribute('data-page-width', String(document.documentElement.scrollWidth));
  var boxes = Array.prototype.slice.call(document.querySelectorAll('div.wide'));
  document.body.setAttribute('data-scrolling-tables',
    String(boxes.filter(function (b) { return b.scrollWidth > b.clientWidth; }).length));
});
"""
