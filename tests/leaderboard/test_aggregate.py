"""Aggregation over seeds and the comparison with reported numbers, against hand-computed values."""
import math

import pytest
from records_factory import make_record, reid_metrics

from reid_bench import MethodSpec, Reported
from reid_bench.leaderboard.aggregate import build_rows, reported_numbers, summarize
from reid_bench.leaderboard.records import InvalidRecord, parse_record


def _records(*raw):
    return [parse_record(f"{index}.json", record) for index, record in enumerate(raw)]


def _methods(plugin_set):
    return dict(plugin_set.methods.items())


def _row(rows, **wanted):
    matches = [row for row in rows if all(getattr(row, key) == value for key, value in wanted.items())]
    assert len(matches) == 1, (wanted, rows)
    return matches[0]


def test_summarize_uses_the_sample_standard_deviation():
    stat = summarize([60.0, 62.0, 67.0])
    # mean 63; squared deviations 9 + 1 + 16 = 26; sample variance 26 / (3 - 1) = 13
    assert stat.mean == pytest.approx(63.0)
    assert stat.std == pytest.approx(math.sqrt(13.0))
    assert stat.n == 3


def test_single_seed_has_no_spread_and_a_missing_value_gives_no_mean():
    assert summarize([61.5]).std is None
    assert summarize([61.5, None]) is None
    assert summarize([]) is None


def test_means_std_seed_counts_and_differences_to_reported(plugin_set):
    records = _records(
        make_record(protocol="market1501", seed=0, metrics=reid_metrics(79.0, 91.0, mINP=40.0),
                    metrics_reranked=reid_metrics(89.0, 92.0), params=24_000_000, images_per_s=30.0),
        make_record(protocol="market1501", seed=1, metrics=reid_metrics(81.5, 92.0, mINP=44.0),
                    metrics_reranked=reid_metrics(90.0, 94.0), params=24_000_000, images_per_s=40.0),
    )
    rows = build_rows("market1501", "reid", records, _methods(plugin_set))
    row = _row(rows, method="alpha", variant="full")

    assert row.seeds == (0, 1)
    assert row.metrics["mAP"].mean == pytest.approx(80.25)
    assert row.metrics["mAP"].std == pytest.approx(math.sqrt(2 * 1.25**2))  # deviations +-1.25, n - 1 = 1
    assert row.metrics["R1"].mean == pytest.approx(91.5)
    assert row.metrics["R1"].std == pytest.approx(math.sqrt(0.5))
    assert row.metrics["mINP"].mean == pytest.approx(42.0)
    assert row.reranked["mAP"].mean == pytest.approx(89.5)
    assert row.params.mean == 24_000_000 and row.images_per_s.mean == pytest.approx(35.0)
    # alpha reports mAP 80.0 / R1 92.0 (and re-ranked 90.0 / 93.0) on market1501
    assert row.reported.metrics["mAP"] == 80.0 and row.reported.reranked == {"mAP": 90.0, "R1": 93.0}
    assert row.difference("mAP") == pytest.approx(0.25)
    assert row.difference("R1") == pytest.approx(-0.5)
    assert row.difference("R20") is None  # not reported


def test_re_ranked_numbers_are_over_the_seeds_run_with_re_ranking(plugin_set):
    """Re-ranking is off by default: seeds run with and without ``--rerank`` share a row, whose re-ranked
    numbers are those of the re-ranked seeds (the page says how many)."""
    records = _records(
        make_record(seed=0, metrics=reid_metrics(60.0, 80.0), metrics_reranked=reid_metrics(70.0, 82.0)),
        make_record(seed=1, metrics=reid_metrics(62.0, 81.0)),
        make_record(seed=2, metrics=reid_metrics(64.0, 82.0), metrics_reranked=reid_metrics(74.0, 86.0)),
    )
    row = _row(build_rows("synthetic", "reid", records, _methods(plugin_set)), method="alpha", variant="full")
    assert row.seeds == (0, 1, 2) and row.metrics["mAP"].mean == pytest.approx(62.0)
    assert row.reranked["mAP"].n == 2 and row.reranked["mAP"].mean == pytest.approx(72.0)
    assert row.reranked["R1"].mean == pytest.approx(84.0)


def test_grouping_keeps_variants_recipes_budgets_and_weights_apart(plugin_set):
    records = _records(
        make_record(variant="full", recipe_name="uniform", seed=0, metrics=reid_metrics(60.0, 80.0)),
        make_record(variant="full", recipe_name="uniform", seed=1, metrics=reid_metrics(64.0, 82.0)),
        make_record(variant="lite", recipe_name="uniform", seed=0, metrics=reid_metrics(50.0, 70.0)),
        make_record(variant="full", recipe_name="paper", seed=0, metrics=reid_metrics(55.0, 75.0)),
        make_record(variant="full", recipe_name="uniform", epochs=1, seed=0, metrics=reid_metrics(5.0, 10.0)),
        make_record(variant="full", recipe_name="uniform", pretrained="torch hub cache", seed=0,
                    metrics=reid_metrics(70.0, 85.0)),
        make_record(variant="full", recipe_name="uniform", pretrained="synthetic (reid_bench.pretraining v1)",
                    seed=0, metrics=reid_metrics(40.0, 45.0)),
        make_record(variant="full", recipe_name="uniform", pretrained="synthetic (reid_bench.models.pretraining v2)",
                    seed=0, metrics=reid_metrics(42.0, 45.0)),
        make_record(method="beta", seed=0, metrics=reid_metrics(58.0, 79.0)),
    )
    rows = build_rows("synthetic", "reid", records, _methods(plugin_set))

    assert len(rows) == 8
    uniform = _row(rows, method="alpha", variant="full", recipe_name="uniform", epochs=12, pretrained="no")
    assert uniform.seeds == (0, 1) and uniform.metrics["mAP"].mean == pytest.approx(62.0)
    assert _row(rows, variant="lite").metrics["mAP"].mean == 50.0
    assert _row(rows, method="alpha", recipe_name="paper").metrics["mAP"].mean == 55.0
    assert _row(rows, epochs=1).metrics["mAP"].mean == 5.0
    assert _row(rows, pretrained="imagenet").metrics["mAP"].mean == 70.0
    assert _row(rows, pretrained="synthetic v1").metrics["mAP"].mean == 40.0
    assert _row(rows, pretrained="synthetic v2").metrics["mAP"].mean == 42.0  # another pretraining: its own row
    assert [row.metrics["mAP"].mean for row in rows] == [70.0, 62.0, 58.0, 55.0, 50.0, 42.0, 40.0, 5.0]


def test_reported_variants_without_runs_get_a_not_reproduced_row(plugin_set):
    records = _records(make_record(protocol="market1501", seed=0, metrics=reid_metrics(79.0, 91.0)))
    rows = build_rows("market1501", "reid", records, _methods(plugin_set))

    assert [(row.method, row.variant, row.measured) for row in rows] == [
        ("alpha", "full", True),  # ours, mAP 79.0
        ("alpha", "lite", False),  # reported mAP 75.0
        ("beta", "full", False),  # reported mAP 70.1
    ]
    assert rows[1].reported.metrics == {"mAP": 75.0, "R1": 90.0} and rows[1].reported.sources == ("Table 5",)
    assert rows[1].difference("mAP") is None


def test_ties_are_broken_by_name_whatever_the_record_order(plugin_set):
    raw = [make_record(method=name, seed=0, metrics=reid_metrics(60.0, 80.0)) for name in ("gamma", "beta", "alpha")]
    methods = _methods(plugin_set)
    forward = build_rows("synthetic", "reid", _records(*raw), methods)
    backward = build_rows("synthetic", "reid", _records(*reversed(raw)), methods)
    assert [row.method for row in forward] == ["alpha", "beta", "gamma"]
    assert [row.method for row in backward] == ["alpha", "beta", "gamma"]


def test_classification_rows_sort_by_top1_error_ascending(plugin_set):
    records = _records(
        make_record(method="alpha", protocol="cifar100", task="classification",
                    metrics={"top1_err": 30.0, "top5_err": 9.0}),
        make_record(method="beta", protocol="cifar100", task="classification",
                    metrics={"top1_err": 25.0, "top5_err": 8.0}),
    )
    rows = build_rows("cifar100", "classification", records, _methods(plugin_set))
    assert [row.method for row in rows] == ["beta", "alpha"]
    assert _row(rows, method="alpha").difference("top1_err") == pytest.approx(8.0)  # 30.0 - reported 22.0


def _spec(reported):
    return MethodSpec(name="m", model="m", loss_terms=(), paper_recipe=None, reported=reported)


def test_numbers_from_another_protocol_are_kept_apart_and_paired_last():
    method = _spec((
        Reported("market1501", {"mAP": 83.5, "R1": 93.8}, "Table 1", measured_on="market1501-multi-query"),
        Reported("market1501", {"mAP": 76.9, "R1": 90.7}, "Table 1"),
        Reported("market1501", {"mAP": 87.3}, "Table 1", reranked=True),
        Reported("market1501", {"mAP": 70.0}, "Table 9", note="a later table"),
    ))
    (own, other), = reported_numbers(method, "market1501").values()
    assert own.measured_on is None and own.metrics == {"mAP": 76.9, "R1": 90.7} and own.reranked == {"mAP": 87.3}
    assert own.sources == ("Table 1", "Table 9") and own.notes == ("a later table",)
    assert other.measured_on == "market1501-multi-query" and other.metrics == {"mAP": 83.5, "R1": 93.8}


def test_runs_are_compared_with_numbers_from_another_protocol_when_the_paper_has_no_others(plugin_set):
    records = _records(make_record(method="beta", protocol="cuhk03-labeled", seed=0, metrics=reid_metrics(80.0, 85.0)))
    row, = build_rows("cuhk03-labeled", "reid", records, _methods(plugin_set))
    assert row.measured and row.reported.measured_on == "cuhk03-labeled-classic"
    assert row.difference("mAP") == pytest.approx(80.0 - 85.9)


def test_a_row_names_the_distinct_weight_files_its_seeds_started_from(plugin_set):
    records = _records(*(make_record(method="beta", seed=seed, weights_fingerprint=weights)
                         for seed, weights in enumerate(["bb", "aa", None, "bb"])),
                       make_record(method="baseline", seed=0), make_record(method="baseline", seed=1))
    rows = build_rows("synthetic", "reid", records, _methods(plugin_set))
    assert _row(rows, method="beta").weight_files == ("aa", "bb")  # sorted, once each, the unknown left out
    assert _row(rows, method="baseline").weight_files == ()


def test_a_weights_fingerprint_that_is_not_text_is_refused():
    with pytest.raises(InvalidRecord, match="weights_fingerprint"):
        parse_record("x.json", make_record(weights_fingerprint=12))
