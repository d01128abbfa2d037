"""Evaluation at scale: reid-bench's chunked metrics / re-ranking against torchreid's.

    python benchmarks/eval_scale.py --scale market [--rerank] [--device cpu|cuda]
    python benchmarks/eval_scale.py --scale msmt17 [--rerank]

Features are random L2-normalised 2048-d float32 vectors (as in issue #10's anchors; ``--signal``
adds an identity component so that the metrics are not near zero), with Market-1501-like (3,368
queries, 15,913 gallery, 751 ids, 6 cameras) or MSMT17-like (11,659 / 82,161, 3,060 ids, 15 cameras)
ids and cameras; ``--scale tiny`` (60 / 400) runs the same code in seconds (``benchmarks/device_suite.py --smoke``).

Every measured case runs in a fresh subprocess, which generates the features, resets its peak
resident memory (``/proc/self/clear_refs``), runs the case ``--repeats`` times and reports the median
time and the peak resident set (``VmHWM``, which includes the features themselves, about 150 MiB at
Market scale and 770 MiB at MSMT17 scale). Cases:

* ``ours``: ``evaluate_features`` (distance + metrics), or ``evaluate_reranked`` with ``--rerank``;
* ``torchreid``: ``compute_distance_matrix`` + ``evaluate_rank`` (the Python fallback torchreid==0.2.5
  runs), plus ``re_ranking`` with ``--rerank``, run once (it is slow: ~80 s for the metrics at
  Market scale). By default only at Market scale (``--torchreid auto``); at MSMT17 scale its dense
  matrices do not fit (re-ranking would need ~245 GB), so it is reported as null;
* ``anchors``: the bare ``torch.mm`` of the query x gallery shapes and a full ``np.argsort`` of the
  distance matrix (at MSMT17 scale, ``torch.mm`` in 1,024-row chunks to keep the 3.8 GB output out,
  and no argsort).

The last line printed is one JSON object with the figures.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings

SCALES = {
    "market": {"num_query": 3368, "num_gallery": 15913, "num_ids": 751, "num_cams": 6},
    "msmt17": {"num_query": 11659, "num_gallery": 82161, "num_ids": 3060, "num_cams": 15},
    "tiny": {"num_query": 60, "num_gallery": 400, "num_ids": 50, "num_cams": 4},  # smoke runs of the same code
}
DIM = 2048


# ----------------------------------------------------------------------------------------------
# worker side


def make_data(scale, signal, seed=0):
    import numpy as np
    import torch

    cfg = SCALES[scale]
    rng = np.random.default_rng(seed)
    nq, ng, nid, ncam = cfg["num_query"], cfg["num_gallery"], cfg["num_ids"], cfg["num_cams"]
    g_pids = np.concatenate([np.arange(nid), rng.integers(0, nid, ng - nid)])  # every id in the gallery
    rng.shuffle(g_pids)
    q_pids = rng.integers(0, nid, nq)
    g_camids = rng.integers(0, ncam, ng)
    q_camids = rng.integers(0, ncam, nq)
    gen = torch.Generator().manual_seed(seed)
    qf = torch.randn(nq, DIM, generator=gen)
    gf = torch.randn(ng, DIM, generator=gen)
    if signal:
        centers = torch.randn(nid, DIM, generator=gen)
        qf += signal * centers[torch.from_numpy(q_pids)]
        gf += signal * centers[torch.from_numpy(g_pids)]
    qf = torch.nn.functional.normalize(qf, dim=1)
    gf = torch.nn.functional.normalize(gf, dim=1)
    return qf, gf, q_pids, g_pids, q_camids, g_camids


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_mib(reset_ok):
    if reset_ok:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return None


def metrics_of(cmc, mAP, mINP=None):
    return {"cmc": [float(x) for x in cmc], "mAP": float(mAP), "mINP": None if mINP is None else float(mINP)}


def worker(opts):
    warnings.filterwarnings("ignore")
    import numpy as np
    import torch

    qf, gf, q_pids, g_pids, q_camids, g_camids = make_data(opts["scale"], opts["signal"])
    ids = (q_pids, g_pids, q_camids, g_camids)
    out = {"case": opts["case"], "threads": torch.get_num_threads()}
    if opts["case"] == "ours":
        from reid_bench.evaluation.ranking import evaluate_features
        from reid_bench.evaluation.reranking import evaluate_reranked

        device = opts["device"]
        if device == "cuda":
            qf, gf = qf.cuda(), gf.cuda()
        out["rss_before_mib"] = current_mib()
        reset_ok = reset_peak()
        times = []
        for _ in range(opts["repeats"]):
            t0 = time.perf_counter()
            if opts["rerank"]:
                res = evaluate_reranked(qf, gf, *ids, max_rank=50, chunk_size=opts["chunk_size"], device=device)
            else:
                res = evaluate_features(qf, gf, *ids, max_rank=50, chunk_size=opts["chunk_size"], device=device)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        out.update(seconds=statistics.median(times), all_seconds=times, peak_mib=peak_mib(reset_ok),
                   metrics=metrics_of(res.cmc, res.mAP, res.mINP), num_skipped=res.num_skipped_queries)
        if device == "cuda":
            out["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    elif opts["case"] == "torchreid":
        from torchreid.reid.metrics import compute_distance_matrix, evaluate_rank
        from torchreid.reid.utils import re_ranking

        out["rss_before_mib"] = current_mib()
        reset_ok = reset_peak()
        t0 = time.perf_counter()
        distmat = compute_distance_matrix(qf, gf, "euclidean").numpy()
        t1 = time.perf_counter()
        out["distance_seconds"] = t1 - t0
        if opts["rerank"]:
            q_q = compute_distance_matrix(qf, qf, "euclidean").numpy()
            g_g = compute_distance_matrix(gf, gf, "euclidean").numpy()
            t2 = time.perf_counter()
            distmat = re_ranking(distmat, q_q, g_g, k1=20, k2=6, lambda_value=0.3)
            t3 = time.perf_counter()
            del q_q, g_g
            out["rerank_distance_seconds"] = t2 - t1
            out["rerank_seconds"] = t3 - t2
            t1 = t3
        cmc, mAP = evaluate_rank(distmat, *ids, max_rank=50, use_metric_cuhk03=False)
        t4 = time.perf_counter()
        out["eval_seconds"] = t4 - t1
        out.update(seconds=t4 - t0, peak_mib=peak_mib(reset_ok), metrics=metrics_of(cmc, mAP))
    elif opts["case"] == "anchors":
        nq = qf.shape[0]
        mm_times, sort_times = [], []
        for _ in range(opts["repeats"]):
            t0 = time.perf_counter()
            if opts["scale"] == "market":
                d = torch.mm(qf, gf.t())
            else:
                for s in range(0, nq, 1024):
                    torch.mm(qf[s:s + 1024], gf.t())
            mm_times.append(time.perf_counter() - t0)
            if opts["scale"] == "market":
                a = d.numpy()
                t0 = time.perf_counter()
                np.argsort(a, axis=1)
                sort_times.append(time.perf_counter() - t0)
        out["mm_seconds"] = statistics.median(mm_times)
        out["argsort_seconds"] = statistics.median(sort_times) if sort_times else None
    print("RESULT " + json.dumps(out), flush=True)


# ----------------------------------------------------------------------------------------------
# driver side


def run_case(args, case, repeats, timeout):
    opts = {"case": case, "scale": args.scale, "rerank": args.rerank, "device": args.device, "signal": args.signal,
            "chunk_size": args.chunk_size, "repeats": repeats}
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(opts)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  {case}: timed out after {timeout:.0f} s", flush=True)
        return None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[len("RESULT "):])
            res["wall_seconds"] = time.perf_counter() - t0
            return res
    print(f"  {case}: failed (exit {proc.returncode})\n{proc.stderr[-3000:]}", flush=True)
    return None


def compare(ours, ref, rerank):
    if ours is None or ref is None:
        return None
    cmc_equal = ours["metrics"]["cmc"] == ref["metrics"]["cmc"]
    map_diff = abs(ours["metrics"]["mAP"] - ref["metrics"]["mAP"])
    return bool(cmc_equal and map_diff <= (1e-4 if rerank else 1e-6)), cmc_equal, map_diff


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="market")
    parser.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking (k1=20, k2=6, lambda=0.3)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--chunk-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=None, help="repeats of our case and the anchors "
                        "(median reported; default 3 at Market scale, 1 at MSMT17 scale)")
    parser.add_argument("--torchreid", choices=["auto", "always", "never"], default="auto",
                        help="run torchreid's evaluation (once); auto: at Market scale only")
    parser.add_argument("--torchreid-eval", action="store_true", help="same as --torchreid always")
    parser.add_argument("--no-anchors", action="store_true", help="skip the bare torch.mm / argsort timings")
    parser.add_argument("--signal", type=float, default=0.0,
                        help="identity component added to the random features (0: pure noise, as the anchors)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="per case, seconds")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    repeats = args.repeats or (3 if args.scale == "market" else 1)
    run_torchreid = args.torchreid_eval or args.torchreid == "always" or (args.torchreid == "auto" and args.scale == "market")
    cfg = SCALES[args.scale]
    print(f"scale={args.scale} ({cfg['num_query']} x {cfg['num_gallery']} x {DIM}), rerank={args.rerank}, "
          f"device={args.device}, chunk_size={args.chunk_size}, repeats={repeats}", flush=True)

    anchors = None if args.no_anchors else run_case(args, "anchors", repeats, args.timeout)
    if anchors:
        print(f"  bare torch.mm {anchors['mm_seconds']:.2f} s"
              + (f", full np.argsort {anchors['argsort_seconds']:.2f} s" if anchors["argsort_seconds"] else ""),
              flush=True)
    ours = run_case(args, "ours", repeats, args.timeout)
    if ours:
        print(f"  reid_bench: {ours['seconds']:.2f} s (runs {', '.join(f'{t:.2f}' for t in ours['all_seconds'])}), "
              f"peak {ours['peak_mib']:.0f} MiB (features etc. before: {ours['rss_before_mib']:.0f} MiB), "
              f"mAP {100 * ours['metrics']['mAP']:.4f}%, R1 {100 * ours['metrics']['cmc'][0]:.4f}%, "
              f"mINP {100 * ours['metrics']['mINP']:.4f}%", flush=True)
    ref = run_case(args, "torchreid", 1, args.timeout) if run_torchreid else None
    if ref:
        parts = [f"distance {ref['distance_seconds']:.2f} s"]
        if args.rerank:
            parts.append(f"re_ranking {ref['rerank_seconds']:.2f} s (+ q_q/g_g distances {ref['rerank_distance_seconds']:.2f} s)")
        parts.append(f"evaluate_rank {ref['eval_seconds']:.2f} s")
        print(f"  torchreid: {ref['seconds']:.2f} s ({', '.join(parts)}), peak {ref['peak_mib']:.0f} MiB, "
              f"mAP {100 * ref['metrics']['mAP']:.4f}%, R1 {100 * ref['metrics']['cmc'][0]:.4f}%", flush=True)
    cmp = compare(ours, ref, args.rerank)
    if cmp is not None:
        print(f"  metrics match: {cmp[0]} (CMC identical: {cmp[1]}, |mAP difference| {cmp[2]:.2e})", flush=True)

    summary = {
        "scale": args.scale,
        "rerank": args.rerank,
        "device": args.device,
        "num_query": cfg["num_query"],
        "num_gallery": cfg["num_gallery"],
        "dim": DIM,
        "chunk_size": args.chunk_size,
        "repeats": repeats,
        "ours_s": None if ours is None else round(ours["seconds"], 3),
        "ours_peak_mib": None if ours is None else round(ours["peak_mib"], 1),
        "ours_rss_before_mib": None if ours is None else round(ours["rss_before_mib"], 1),
        "torchreid_s": None if ref is None else round(ref["seconds"], 3),
        "torchreid_peak_mib": None if ref is None else round(ref["peak_mib"], 1),
        "torchreid_rerank_s": None if ref is None or not args.rerank else round(ref["rerank_seconds"], 3),
        "torchreid_eval_s": None if ref is None else round(ref["eval_seconds"], 3),
        "metrics_match": None if cmp is None else cmp[0],
        "mAP_abs_diff": None if cmp is None else cmp[2],
        "ours_mAP": None if ours is None else ours["metrics"]["mAP"],
        "ours_R1": None if ours is None else ours["metrics"]["cmc"][0],
        "ours_mINP": None if ours is None else ours["metrics"]["mINP"],
        "bare_mm_s": None if anchors is None else round(anchors["mm_seconds"], 3),
        "argsort_s": None if anchors is None or anchors["argsort_seconds"] is None else round(anchors["argsort_seconds"], 3),
        "threads": None if ours is None else ours["threads"],
    }
    if ours and anchors:
        summary["ours_over_mm"] = round(ours["seconds"] / anchors["mm_seconds"], 3)
        if anchors["argsort_seconds"]:
            summary["ours_over_mm_plus_argsort"] = round(ours["seconds"] / (anchors["mm_seconds"] + anchors["argsort_seconds"]), 3)
    if ours and ref:
        summary["speedup_vs_torchreid"] = round(ref["seconds"] / ours["seconds"], 2)
        if args.rerank:
            summary["speedup_vs_torchreid_rerank_only"] = round(ref["rerank_seconds"] / ours["seconds"], 2)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
