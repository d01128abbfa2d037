"""Leaderboard rows: runs tested with different test-time options are never averaged together, and the
significance column compares each row with the baseline row of the same configuration."""
from records_factory import make_record, reid_metrics, write_records

from reid_bench.leaderboard.aggregate import build_rows
from reid_bench.leaderboard.records import load_records, evaluation_label

DEFAULT_RERANK = {"flip": False, "distance": "euclidean", "aqe": None, "rerank": {"k1": 20, "k2": 6, "lambda": 0.3}}


def rows_of(tmp_path, records, per_query=None):
    write_records(tmp_path / "results", records, per_query)
    loaded, skipped, _ = load_records([str(tmp_path / "results")])
    assert skipped == []
    return build_rows("synthetic", "reid", loaded, {})


def test_test_time_options_split_rows(tmp_path):
    records = [
        make_record(seed=0, metrics=reid_metrics(50.0, 70.0)),  # written before options were recorded
        make_record(seed=1, metrics=reid_metrics(52.0, 71.0), test_time=DEFAULT_RERANK,
                    finished_at="2026-01-02T00:00:00+00:00"),
        make_record(seed=0, metrics=reid_metrics(60.0, 80.0), test_time={**DEFAULT_RERANK, "flip": True},
                    finished_at="2026-01-03T00:00:00+00:00"),
        make_record(seed=0, metrics=reid_metrics(61.0, 80.0),
                    test_time={**DEFAULT_RERANK, "rerank": {"k1": 10, "k2": 3, "lambda": 0.5}},
                    finished_at="2026-01-04T00:00:00+00:00"),
    ]
    rows = {row.test_time: row for row in rows_of(tmp_path, records)}
    assert sorted(rows) == ["", "flip", "re-rank k1 10 k2 3 lambda 0.5"]
    assert rows[""].seeds == (0, 1)  # the default options, stated or not, share a row
    assert rows["flip"].metrics["mAP"].mean == 60.0


def test_labels_name_the_options_that_differ_from_the_defaults():
    assert evaluation_label({}) == ""
    assert evaluation_label({"test_time": {**DEFAULT_RERANK, "rerank": None}}) == ""
    assert evaluation_label({"test_time": {"flip": True, "distance": "cosine", "aqe": {"k": 5, "alpha": 3.0, "times": 2},
                                          "rerank": None}}) == "flip, cosine, AQE k5 alpha3 x2"


def test_significance_against_the_matching_baseline_row(tmp_path):
    base = [0.2 + 0.01 * i for i in range(30)]
    records = [make_record(method="baseline", seed=0), make_record(method="alpha", seed=0),
               make_record(method="alpha", seed=0, epochs=3, finished_at="2026-01-02T00:00:00+00:00"), make_record(method="beta", seed=0)]
    per_query = {records[0]["run_id"]: base, records[1]["run_id"]: [ap + 0.05 for ap in base],
                 records[2]["run_id"]: [ap - 0.05 for ap in base]}
    rows = {(row.method, row.epochs): row for row in rows_of(tmp_path, records, per_query)}
    assert rows[("baseline", 12)].is_baseline
    comparison = rows[("alpha", 12)].vs_baseline
    assert abs(comparison.difference - 5.0) < 1e-9 and not comparison.contains_zero
    assert rows[("alpha", 3)].vs_baseline is None  # no baseline trained for 3 epochs
    assert rows[("beta", 12)].vs_baseline is None  # no per-query file


def test_training_gain_against_the_rows_own_untrained_start(tmp_path):
    base = [0.1 + 0.01 * i for i in range(30)]
    later = "2026-01-02T00:00:00+00:00"  # another run id than the untrained run of the same seed
    records = [make_record(method="alpha", seed=0, epochs=0, metrics=reid_metrics(10.0, 5.0)),
               make_record(method="alpha", seed=1, epochs=0, metrics=reid_metrics(12.0, 5.0)),
               make_record(method="alpha", seed=0, metrics=reid_metrics(40.0, 50.0), finished_at=later),
               make_record(method="beta", seed=0, epochs=0),
               make_record(method="beta", seed=0, pretrained="synthetic (reid_bench.models.pretraining v2)",
                           finished_at=later),
               make_record(method="gamma", seed=0, epochs=0), make_record(method="gamma", seed=0, finished_at=later)]
    per_query = {records[0]["run_id"]: base, records[1]["run_id"]: base,
                 records[2]["run_id"]: [ap + 0.3 for ap in base],
                 records[5]["run_id"]: base, records[6]["run_id"]: base}
    rows = {(row.method, row.epochs): row for row in rows_of(tmp_path, records, per_query)}
    alpha = rows[("alpha", 12)]
    assert alpha.untrained_map.mean == 11.0 and alpha.untrained_map.n == 2
    assert abs(alpha.vs_untrained.difference - 30.0) < 1e-9 and alpha.vs_untrained.low > 0
    assert rows[("alpha", 0)].vs_untrained is None and rows[("alpha", 0)].untrained_map is None
    assert rows[("beta", 12)].untrained_map is None  # its start is other weights: no start
    assert rows[("gamma", 12)].vs_untrained.contains_zero  # trained no better than untrained


def test_the_page_says_which_rows_gain_from_training(tmp_path):
    from reid_bench.leaderboard.protocols import ProtocolPage
    from reid_bench.leaderboard.render import GAIN_HEADER, UNTRAINED_HEADER, render_page

    base = [0.1 + 0.01 * i for i in range(30)]
    later = "2026-01-02T00:00:00+00:00"
    records = [make_record(method="alpha", seed=0, epochs=0), make_record(method="alpha", seed=0, finished_at=later),
               make_record(method="gamma", seed=0, epochs=0), make_record(method="gamma", seed=0, finished_at=later)]
    per_query = {records[0]["run_id"]: base, records[1]["run_id"]: [ap + 0.2 for ap in base],
                 records[2]["run_id"]: base, records[3]["run_id"]: base}
    rows = rows_of(tmp_path, records, per_query)
    page = render_page(ProtocolPage("synthetic", "reid", "Synthetic"), rows, {})
    assert UNTRAINED_HEADER in page and GAIN_HEADER in page and "+20.00 [" in page
    assert "Training gain: not significant (95% interval reaching 0 or below) for gamma [full]; 1 of 2" in page
