"""Hand-made result records for the leaderboard tests: complete schema-1 records with chosen numbers."""
import json
import os

import numpy as np

from reid_bench.results.per_query import per_query_filename, save_per_query


def make_record(method="alpha", variant="full", protocol="synthetic", seed=0, recipe_name="uniform", epochs=12,
                metrics=None, metrics_reranked=None, task="reid", backbone="resnet50", pretrained=False,
                params=25_000_000, flops=1_300_000_000, images_per_s=50.0,
                finished_at="2026-01-01T00:00:00+00:00", test_time=None, weights_fingerprint=None):
    """A complete schema-1 result record (every key of :mod:`reid_bench.results.records`)."""
    if metrics is None:
        metrics = ({"mAP": 50.0, "mINP": 20.0, "R1": 70.0, "R5": 85.0, "R10": 90.0, "R20": 95.0}
                   if task == "reid" else {"top1_err": 30.0, "top5_err": 10.0})
    return {
        "schema_version": 1,
        "run_id": f"{method}-{variant}-{protocol}-{recipe_name}-seed{seed}-{finished_at[:19]}"
                  + ("-tested" if test_time else ""),
        "plugin": method, "method": method, "variant": variant, "protocol": protocol, "task": task,
        "recipe_name": recipe_name,
        "recipe": {"name": recipe_name, "stages": [{"epochs": epochs, "batch_size": 32}], "input_size": [128, 64]},
        "seed": seed,
        "metrics": metrics,
        "metrics_reranked": metrics_reranked,
        "evaluation": {"evaluator": "torchreid", "num_query": 100, "num_gallery": 900, "num_skipped_queries": 0,
                       "trials": 1, "test_features": "single",
                       **({} if test_time is None else {"test_time": test_time})},
        "params": params, "flops": flops, "backbone": backbone, "input_size": [128, 64],
        "train": {"epochs": epochs, "iterations": 100, "images_per_s": images_per_s, "wall_s": 60.0},
        "eval_wall_s": 5.0, "pretrained": pretrained, "weights_fingerprint": weights_fingerprint, "device": "cpu",
        "amp": False,
        "versions": {"python": "3.11", "torch": "2.4", "torchvision": "0.19", "torchreid": "0.2.5",
                     "reid_bench": "0.1.0"},
        "git_commit": None, "started_at": "2026-01-01T00:00:00+00:00", "finished_at": finished_at,
        "resumed": False, "run_dir": "runs/x",
    }


def reid_metrics(mAP, R1, R5=90.0, R10=95.0, mINP=30.0, R20=98.0):
    return {"mAP": mAP, "mINP": mINP, "R1": R1, "R5": R5, "R10": R10, "R20": R20}


def write_json(path, payload):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as stream:
        json.dump(payload, stream, indent=2, sort_keys=True)
    return str(path)


def write_records(folder, records, per_query=None):
    """Each record as ``<folder>/<run_id>.json``; returns the paths. ``per_query`` maps run ids to
    per-query APs: those records get a per-query file beside them (one query per identity, camera 0,
    one true match each), named by their ``per_query`` key."""
    paths = []
    for record in records:
        aps = (per_query or {}).get(record["run_id"])
        if aps is not None:
            record = {**record, "per_query": per_query_filename(record["run_id"])}
            aps = np.asarray(aps, dtype=np.float64)
            ones = np.ones(len(aps), dtype=np.int64)
            save_per_query(os.path.join(folder, record["per_query"]), [{
                "pid": np.arange(len(aps)), "camid": 0 * ones, "ap": aps, "first_rank": ones, "num_matches": ones}])
        paths.append(write_json(os.path.join(folder, f"{record['run_id']}.json"), record))
    return paths
