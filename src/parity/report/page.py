"""The report page's look and its self-check: the style sheet, a script that records on <body> whether
the plots loaded and whether anything widens the page (the report's browser test reads these), and the mark by
which a later report knows a page parity wrote (and may replace it)."""

__all__ = ["GENERATOR", "SCRIPT", "STYLE", "written_by_parity"]

GENERATOR = "<meta name='generator' content='parity'>"  # in the page's <head>
_TITLE = "<title>parity report</title>"  # every report's title, the mark of those written before GENERATOR was


def written_by_parity(head: str) -> bool:
    """Whether a page whose first characters are `head` (its <head>) is a report parity wrote."""
    return GENERATOR in head or _TITLE in head

STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto; max-width: 1200px;
       color: #1d2330; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 2px solid #e3e7ef; }
p.lead { color: #4a5468; }
table { border-collapse: collapse; width: 100%; font-size: .8rem; margin: .8rem 0; }
div.wide { overflow-x: auto; }
th, td { border-bottom: 1px solid #e3e7ef; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f6fa; font-weight: 600; }
td:last-child { min-width: 8rem; overflow-wrap: anywhere; }  /* notes wrap instead of running off the page */
th, td { padding: .3rem .35rem; }
table.numbers td:not(:first-child) { font-variant-numeric: tabular-nums; }
td:first-child b { white-space: nowrap; }  /* a system's name is never broken at its hyphens */
/* plots shrink to a narrow screen instead of widening the page */
figure { display: inline-block; margin: .5rem 1rem .5rem 0; width: 562px; max-width: 100%; vertical-align: top; }
img { width: 100%; height: auto; border: 1px solid #e3e7ef; box-sizing: border-box; }
figcaption { font-size: .8rem; color: #4a5468; }
.key { color: #0b5cad; } small { color: #6b7488; }
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
"""

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
