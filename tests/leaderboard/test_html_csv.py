"""Each page's CSV and sortable HTML beside its markdown: the same rows, parseable, self-contained; the
figures' legends tell rows apart."""
import csv
import glob
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from records_factory import make_record, reid_metrics, write_records
from test_render import golden_per_query, golden_records

import reid_bench.leaderboard as leaderboard
from reid_bench.leaderboard import write_leaderboards
from reid_bench.leaderboard.aggregate import build_rows
from reid_bench.leaderboard.figures import row_labels
from reid_bench.leaderboard.records import load_records


@pytest.fixture
def out(tmp_path, plugin_set):
    write_records(tmp_path / "results", golden_records(), golden_per_query())
    write_leaderboards([str(tmp_path / "results")], str(tmp_path / "out"), plugin_set)
    return tmp_path / "out"


def _markdown_rows(path):
    """The body rows of a markdown page's table, as lists of stripped cells."""
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]


class _Page(HTMLParser):
    """What the tests read of an HTML page: header texts, body rows (cell texts and data-sort values), the
    scripts' text and every attribute that makes a browser fetch something."""

    def __init__(self):
        super().__init__()
        self.headers, self.rows, self.scripts, self.fetched, self.tags = [], [], [], [], []
        self._text, self._in = None, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.fetched += [attrs[name] for name in ("src", "data") if name in attrs]
        if tag == "link":
            self.fetched.append(attrs.get("href", ""))
        if tag == "tr" and "tbody" in self._in:
            self.rows.append([])
        if tag in ("th", "td", "script"):
            self._text = []
            self._sort = attrs.get("data-sort")
        self._in.append(tag)

    def handle_endtag(self, tag):
        self._in.pop()
        text = "".join(self._text or [])
        if tag == "th":
            self.headers.append(text)
        elif tag == "td":
            self.rows[-1].append((text, self._sort))
        elif tag == "script":
            self.scripts.append(text)
        if tag in ("th", "td", "script"):
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def _parse(path):
    page = _Page()
    page.feed(path.read_text())
    page.close()
    return page


def test_every_page_gets_a_csv_of_every_row_whose_numbers_match_the_markdown(out):
    for markdown in sorted(out.glob("*.md")):
        if markdown.name == "README.md":
            continue
        with open(markdown.with_suffix(".csv"), newline="") as stream:
            rows = list(csv.DictReader(stream))
        table = _markdown_rows(markdown)
        assert len(rows) == len(table), markdown.name
        assert [row["method"] for row in rows] == [cells[0].split("](")[0].lstrip("[") for cells in table]
    with open(out / "synthetic.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    alpha = next(row for row in rows if row["method"] == "alpha" and row["test_time"] == "default"
                 and row["epochs"] == "12" and row["variant"] == "full")
    assert float(alpha["mAP_mean"]) == 61.0 and alpha["n_seeds"] == "2" and alpha["seeds"] == "0 1"
    assert f"{float(alpha['mAP_mean']):.2f} ± {float(alpha['mAP_std']):.2f}" in (out / "synthetic.md").read_text()
    assert float(alpha["mAP_vs_baseline"]) == pytest.approx(10.0)
    beta = next(row for row in rows if row["method"] == "beta" and row["epochs"] == "12")
    assert beta["mINP_mean"] == "" and beta["mAP_mean"] == "59"  # a seed lacks mINP: empty, not a partial mean
    with open(out / "market1501.csv", newline="") as stream:
        market = list(csv.DictReader(stream))
    assert [(row["paper_mAP"], row["n_seeds"]) for row in market if row["variant"] == "lite"] == [("75", "0")]


def test_the_csv_rows_are_the_aggregated_rows(tmp_path, plugin_set, out):
    records, _, _ = load_records([str(tmp_path / "results")])
    rows = build_rows("synthetic", "reid", [r for r in records if r.group.protocol == "synthetic"],
                      dict(plugin_set.methods.items()))
    with open(out / "synthetic.csv", newline="") as stream:
        written = list(csv.DictReader(stream))
    assert [(row["method"], row["variant"], row["epochs"], row["recipe"]) for row in written] == [
        (row.method, row.variant, str(row.epochs), row.recipe_name) for row in rows]


def test_every_page_gets_a_self_contained_html_page_with_every_row_and_the_sort_script(out):
    for markdown in sorted(out.glob("*.md")):
        if markdown.name == "README.md":
            continue
        page = _parse(markdown.with_suffix(".html"))
        table = _markdown_rows(markdown)
        assert len(page.rows) == len(table), markdown.name
        for cells, markdown_cells in zip(page.rows, table):
            assert [text for text, _ in cells][1:] == [cell.replace("\\|", "|") for cell in markdown_cells][1:]
        assert page.scripts and "sortBy" in page.scripts[0] and "addEventListener" in page.scripts[0]
        assert "link" not in page.tags and "iframe" not in page.tags
        for reference in page.fetched:  # nothing from a network: figures beside the page
            assert "://" not in reference and not reference.startswith("/"), reference
            assert (out / reference).is_file(), reference
    synthetic = _parse(out / "synthetic.html")
    assert synthetic.fetched == ["synthetic-cmc.svg", "synthetic-mAP.svg"]
    headers = synthetic.headers
    assert "Δ mAP vs baseline [95% CI]" in headers and "mAP re-ranked" in headers
    mAP = headers.index("mAP")
    assert [cells[mAP] for cells in synthetic.rows][:2] == [("64.00", "64.0"), ("61.00 ± 1.41", "61.0")]
    market = _parse(out / "market1501.html")
    assert "paper mAP" in market.headers and ("not yet reproduced", None) in [row[6] for row in market.rows]


def test_pages_are_all_computed_before_any_file_is_written(tmp_path, plugin_set, monkeypatch):
    write_records(tmp_path / "results", golden_records(), golden_per_query())
    calls = []

    def failing_csv(page, rows):
        calls.append(page.name)
        if page.name == "synthetic":  # the last page
            raise RuntimeError("disk on fire")
        return ""

    monkeypatch.setattr(leaderboard, "render_csv", failing_csv)
    with pytest.raises(RuntimeError):
        write_leaderboards([str(tmp_path / "results")], str(tmp_path / "out"), plugin_set)
    assert calls[-1] == "synthetic" and len(calls) > 1
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    return sync_playwright


def _sorted_column(path, header, clicks):
    """The texts of column ``header`` after ``clicks`` clicks on it, in a headless Chromium."""
    page = _parse(path)
    column = page.headers.index(header)
    script = (f"const th = document.querySelectorAll('thead th')[{column}];"
              + "th.click();" * clicks
              + f"document.title = JSON.stringify(Array.from(document.querySelectorAll('tbody tr'), "
                f"r => r.cells[{column}].textContent));")
    if _playwright():
        with _playwright()() as playwright:
            browser = playwright.chromium.launch()
            tab = browser.new_page()
            tab.goto(path.as_uri())
            tab.evaluate(f"() => {{ {script} }}")
            title = tab.title()
            browser.close()
    else:  # the page with a click after load, its DOM dumped once the scripts ran
        clicked = path.with_name("clicked-" + path.name)
        clicked.write_text(path.read_text().replace("</body>", f"<script>{script}</script>\n</body>"))
        dom = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                              clicked.as_uri()], capture_output=True, text=True, timeout=120).stdout
        title = _TitleOf.read(dom)
    return json.loads(title)


class _TitleOf(HTMLParser):
    @classmethod
    def read(cls, text):
        parser = cls()
        parser.title, parser._inside = "", False
        parser.feed(text)
        return parser.title

    def handle_starttag(self, tag, attrs):
        self._inside = tag == "title"

    def handle_endtag(self, tag):
        self._inside = False

    def handle_data(self, data):
        if self._inside:
            self.title += data


@pytest.mark.skipif(not (_chromium() or _playwright()),
                    reason="no headless Chromium here (chromium, chromium-browser, google-chrome or playwright)")
def test_a_click_on_a_header_sorts_by_it_and_another_reverses(out):
    page = out / "synthetic.html"
    ascending = _sorted_column(page, "mAP", 1)
    numbers = [float(text.split()[0]) for text in ascending]
    assert numbers == sorted(numbers) and len(numbers) == len(_parse(page).rows)
    assert _sorted_column(page, "mAP", 2) == list(reversed(ascending))


def test_legend_labels_tell_apart_rows_that_differ_only_in_recipe(tmp_path):
    records = [make_record(seed=0, recipe_name="uniform", metrics=reid_metrics(60.0, 80.0)),
               make_record(seed=0, recipe_name="paper", metrics=reid_metrics(50.0, 70.0))]
    write_records(tmp_path / "results", records)
    loaded, _, _ = load_records([str(tmp_path / "results")])
    labels = row_labels(build_rows("synthetic", "reid", loaded, {}))
    assert labels == ["alpha [full] uniform", "alpha [full] paper"]


def test_legend_labels_name_only_what_differs_among_the_plotted_rows(tmp_path):
    flip = {"flip": True, "distance": "euclidean", "aqe": None, "rerank": None}
    records = [make_record(seed=0, metrics=reid_metrics(60.0, 80.0)),
               make_record(seed=0, metrics=reid_metrics(61.0, 80.0), test_time=flip),
               make_record(seed=0, epochs=0, metrics=reid_metrics(10.0, 8.0), finished_at="2026-01-02T00:00:00+00:00"),
               make_record(method="beta", seed=0, pretrained="synthetic (reid_bench.models.pretraining v2)",
                           metrics=reid_metrics(40.0, 60.0))]
    write_records(tmp_path / "results", records)
    loaded, _, _ = load_records([str(tmp_path / "results")])
    labels = row_labels(build_rows("synthetic", "reid", loaded, {}))
    assert labels == ["alpha [full] 12 ep, from scratch, flip",  # sorted by mAP; recipe, batch, input: all alike
                      "alpha [full] 12 ep, from scratch, default test-time",
                      "beta [full] 12 ep, synthetic v2 weights, default test-time",
                      "alpha [full] 0 ep, from scratch, default test-time"]
    assert len(set(labels)) == len(labels)


def test_the_figures_files_are_the_ones_the_html_shows(out):
    shown = {name for page in out.glob("*.html") for name in _parse(page).fetched}
    assert shown == {os.path.basename(path) for path in glob.glob(str(out / "*.svg"))}


def test_legend_labels_name_a_backbone_only_where_one_method_variant_has_several(tmp_path):
    records = [make_record(seed=0, metrics=reid_metrics(60.0, 80.0)),
               make_record(method="beta", backbone="googlenet", seed=0, metrics=reid_metrics(50.0, 70.0))]
    write_records(tmp_path / "results", records)
    loaded, _, _ = load_records([str(tmp_path / "results")])
    assert row_labels(build_rows("synthetic", "reid", loaded, {})) == ["alpha [full]", "beta [full]"]
    records.append(make_record(backbone="resnet18", seed=0, metrics=reid_metrics(40.0, 60.0),
                               finished_at="2026-01-02T00:00:00+00:00"))
    write_records(tmp_path / "results", records)
    loaded, _, _ = load_records([str(tmp_path / "results")])
    assert row_labels(build_rows("synthetic", "reid", loaded, {})) == [
        "alpha [full] resnet50", "beta [full] googlenet", "alpha [full] resnet18"]


def test_an_output_that_is_a_file_is_one_error_line(tmp_path, capsys):
    from reid_bench.cli import main

    (tmp_path / "taken").write_text("not a folder")
    assert main(["leaderboard", "--results", str(tmp_path), "--output", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --output ") and err.count("\n") == 1 and "expected a folder" in err
    assert (tmp_path / "taken").read_text() == "not a folder"
