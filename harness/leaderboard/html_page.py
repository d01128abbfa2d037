"""The HTML version of a protocol page: the blocks of :func:`.render.page_blocks` (the markdown page's
content) as one static file with a sortable table.

A click on a column's header (or Enter on it) sorts the rows by that column, ascending; a second click
reverses. Numeric columns sort by the number behind each cell (its ``data-sort`` attribute: the mean of
"mean ± std", the difference of an interval, 0 on the baseline row itself), text columns by their text,
numbers inside it compared as numbers; blank cells and text in a numeric column ("not yet reproduced")
stay last either way. Everything is in the file, inline CSS and a small script, no framework and
nothing fetched from a network; the figures are the SVG files beside the page, by relative path. The
same blocks give the same bytes.
"""
import html
import re

from .protocols import page_stem
from .render import page_blocks

CODE = re.compile(r"`([^`]+)`")
LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #1f2328; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.5em; }
td.number { text-align: right; white-space: nowrap; }
th { background: #f6f8fa; cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
tbody tr:nth-child(even) { background: #f6f8fa; }
code { background: #eff1f3; padding: 0 0.2em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; }
""".strip()

SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var headers = table.tHead.rows[0].cells;
  var body = table.tBodies[0];
  Array.prototype.forEach.call(body.rows, function (row, index) { row.dataset.order = index; });
  function key(cell) {
    if (cell.hasAttribute("data-sort")) return [0, parseFloat(cell.getAttribute("data-sort"))];
    var text = cell.textContent.trim();
    return text === "" ? [2, ""] : [1, text];
  }
  function sortBy(column) {
    var header = headers[column];
    var direction = header.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    Array.prototype.forEach.call(headers, function (other) { other.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[column]), y = key(b.cells[column]);
      if (x[0] !== y[0]) return x[0] - y[0];
      var order = x[0] === 0 ? x[1] - y[1] : x[1].localeCompare(y[1], undefined, {numeric: true});
      return direction * order || a.dataset.order - b.dataset.order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  Array.prototype.forEach.call(headers, function (header, column) {
    header.tabIndex = 0;
    header.title = "sort by this column (again: reverse)";
    header.addEventListener("click", function () { sortBy(column); });
    header.addEventListener("keydown", function (event) { if (event.key === "Enter") sortBy(column); });
  });
});
""".strip()


def inline(text):
    """A text of the page (inline markdown: `` `code` `` and ``[links](url)``) as HTML, the rest escaped."""
    text = CODE.sub(r"<code>\1</code>", html.escape(text))
    return LINK.sub(r'<a href="\2">\1</a>', text)


def _table(table):
    numeric = [any(row[column].sort is not None for row in table.body) for column in range(len(table.headers))]
    lines = ['<table class="sortable">', "<thead><tr>"
             + "".join(f'<th scope="col">{inline(header)}</th>' for header in table.headers) + "</tr></thead>",
             "<tbody>"]
    for row in table.body:
        cells = []
        for cell, number in zip(row, numeric):
            attributes = (' class="number"' if number else "") + (
                "" if cell.sort is None else f' data-sort="{float(cell.sort)!r}"')
            cells.append(f"<td{attributes}>{inline(cell.text)}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(lines + ["</tbody>", "</table>"])


def _block(block):
    if block.kind == "heading":
        return f"<h1>{inline(block.content)}</h1>"
    if block.kind == "emphasis":
        return f"<p><em>{inline(block.content)}</em></p>"
    if block.kind == "list":
        return "<ul>\n" + "\n".join(f"<li>{inline(item)}</li>" for item in block.content) + "\n</ul>"
    if block.kind == "table":
        return _table(block.content)
    if block.kind == "figure":
        caption, name = block.content
        return f'<figure><img src="{html.escape(name)}" alt="{html.escape(caption)}"></figure>'
    return f"<p>{inline(block.content)}</p>"


def render_html(page, rows, protocols, figures=()):
    """The HTML page of one protocol: the arguments of :func:`.render.page_blocks`; it links the page's CSV
    (``<stem>.csv``, beside it)."""
    blocks = page_blocks(page, rows, protocols, figures)
    stem = page_stem(page.name)
    files = f'<p>Every row as CSV: <a href="{html.escape(stem)}.csv">{html.escape(stem)}.csv</a>.</p>'
    body = [_block(blocks[0]), files] + [_block(block) for block in blocks[1:]]
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(page.title)}</title>", f"<style>\n{STYLE}\n</style>", "</head>", "<body>",
        *body, f"<script>\n{SCRIPT}\n</script>", "</body>", "</html>",
    ]) + "\n"
