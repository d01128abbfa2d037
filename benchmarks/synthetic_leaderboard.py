"""Measure the `synthetic` leaderboard: every built-in method's full model, at least two seeds each.

For each method registered by a plugin shipped with reid-bench (``reid_bench.plugins.*``: the baseline
and the paper plugins, found in the plugin registry, not listed here) and each seed this runs

    reid-bench run --plugin METHOD --dataset synthetic --recipe uniform --seeds SEED [--epochs E] \
        --overwrite --no-progress --output runs/synthetic-leaderboard/METHOD-seedSEED

in its own process (one method failing does not stop the others; ``--jobs`` runs that many at once,
sharing the CPU threads between them), plus three reference rows of the baseline:

- untrained from scratch (``--epochs 0 --no-pretrained``): what chance looks like on this protocol;
- untrained from the synthetic-pretrained weights (``--epochs 0``): what pretraining alone gives;
- trained from scratch (``--no-pretrained``, first seed only): what the synthetic pretraining adds.

It copies the result records into ``leaderboards/results/synthetic/`` (replacing earlier records of
the same method, variant, training length, pretraining and seed) and regenerates ``leaderboards/``
with ``reid-bench leaderboard``.

The schedule is CPU-sized: the synthetic protocol fine-tunes the synthetic-pretrained backbones
(:mod:`reid_bench.pretraining`, made once per architecture and cached) at 64x32 under its budget
(16 epochs of 32-image batches, one warm-up epoch, x0.1 for the last two), shortened to ``--epochs``
when given; the uniform recipe gives every method the same optimizer, P x K batches and
augmentation, so the table compares methods, not recipes. The numbers say nothing about the
methods' accuracy on real data.

Usage (from anywhere; paths default to this checkout)::

    python benchmarks/synthetic_leaderboard.py                    # all built-in methods, seeds 0 1
    python benchmarks/synthetic_leaderboard.py --jobs 2           # what the committed table used
    python benchmarks/synthetic_leaderboard.py --methods baseline ccan --seeds 0 1 2

Exits with status 1 when a run failed (the leaderboards are regenerated from what exists anyway).
"""
import argparse
import concurrent.futures
import glob
import json
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTOCOL = "synthetic"
BUILTIN_PLUGIN_PACKAGE = "reid_bench.plugins."
REFERENCE = "baseline"


def builtin_methods(plugins):
    """Names of the methods registered by the plugins shipped in ``reid_bench.plugins``."""
    return [
        name for name in plugins.methods.names()
        if plugins.plugins[plugins.methods.owner(name)].__name__.startswith(BUILTIN_PLUGIN_PACKAGE)
    ]


def run_method(method, seed, args, epochs=None, pretrained=True):
    """Train (``epochs``, default ``args.epochs``; 0: untrained) and evaluate ``method`` with ``seed`` in
    a child process, in its own output folder so parallel runs never see each other's records; returns
    the record files it wrote."""
    epochs = args.epochs if epochs is None else epochs
    name = f"{method}{'-untrained' if epochs == 0 else ''}{'' if pretrained else '-scratch'}-seed{seed}"
    output = os.path.join(args.workdir, name)
    command = [
        sys.executable, "-m", "reid_bench", "run", "--plugin", method, "--dataset", PROTOCOL,
        "--recipe", "uniform", "--seeds", str(seed), "--no-progress",
        "--output", os.path.relpath(output, REPO), "--resume" if args.resume else "--overwrite",
        *(["--epochs", str(epochs)] if epochs is not None else []),
        *([] if pretrained else ["--no-pretrained"]),
    ]
    threads = str(max(1, (os.cpu_count() or 1) // args.jobs))
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    print("$ " + " ".join(command[1:]), flush=True)
    started = time.perf_counter()
    results = os.path.join(output, "results")
    before = set(glob.glob(os.path.join(results, "*.json")))
    status = subprocess.run(command, cwd=REPO, env=env).returncode
    print(f"{name}: exit status {status} after {time.perf_counter() - started:.0f} s", flush=True)
    if status != 0:
        raise RuntimeError(f"reid-bench run for {name} exited with status {status}")
    return sorted(set(glob.glob(os.path.join(results, "*.json"))) - before)


def _identity(path):
    """``(method, variant, protocol, recipe_name, training epochs, pretrained, seed)`` of a record file,
    ``None`` if unreadable."""
    try:
        with open(path) as stream:
            record = json.load(stream)
        return (*(record[key] for key in ("method", "variant", "protocol", "recipe_name")), record["train"]["epochs"],
                bool(record["pretrained"]), record["seed"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _per_query_file(path):
    """The per-query file beside a record (``reid_bench.per_query``), or ``None``."""
    try:
        with open(path) as stream:
            name = json.load(stream).get("per_query")
    except (OSError, ValueError, AttributeError):
        return None
    return os.path.join(os.path.dirname(path), name) if name else None


def store_records(new_records, destination):
    """Copy ``new_records`` and their per-query files into ``destination``, removing the records (and
    per-query files) they replace there."""
    os.makedirs(destination, exist_ok=True)
    replaced = {_identity(path) for path in new_records}
    for path in sorted(glob.glob(os.path.join(destination, "*.json"))):
        if _identity(path) in replaced:
            per_query = _per_query_file(path)
            if per_query and os.path.isfile(per_query):
                os.remove(per_query)
            os.remove(path)
    for path in new_records:
        shutil.copy2(path, destination)
        per_query = _per_query_file(path)
        if per_query and os.path.isfile(per_query):
            shutil.copy2(per_query, destination)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", help="only these methods (default: every built-in one)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seeds per method (default 0 1)")
    parser.add_argument("--epochs", type=int, help="training epochs per run (default: the protocol's budget)")
    parser.add_argument("--jobs", type=int, default=1, help="methods trained at once (default 1)")
    parser.add_argument("--workdir", default=os.path.join(REPO, "runs", "synthetic-leaderboard"),
                        help="run folders (checkpoints, logs) and the engine's results/")
    parser.add_argument("--results", default=os.path.join(REPO, "leaderboards", "results"),
                        help="the committed result records the leaderboards are made from; this script's "
                             f"go to its {PROTOCOL}/ folder")
    parser.add_argument("--out", default=os.path.join(REPO, "leaderboards"), help="leaderboard folder")
    parser.add_argument("--resume", action="store_true", help="continue interrupted runs instead of restarting")
    args = parser.parse_args(argv)

    from reid_bench.cli import main as reid_bench
    from reid_bench.plugin_manager import load_plugins

    methods = args.methods or builtin_methods(load_plugins())
    print(f"methods: {', '.join(methods)}; seeds {args.seeds}; epochs {args.epochs or 'of the budget'}; "
          f"{args.jobs} at once", flush=True)
    failed = []
    jobs = [((method, seed, args), {}, method) for method in methods for seed in args.seeds]
    if REFERENCE in methods:  # the reference rows (module docstring)
        jobs += [((REFERENCE, seed, args), {"epochs": 0, "pretrained": False}, f"{REFERENCE} (untrained, scratch)")
                 for seed in args.seeds]
        jobs += [((REFERENCE, seed, args), {"epochs": 0}, f"{REFERENCE} (untrained, pretrained)")
                 for seed in args.seeds]
        jobs.append(((REFERENCE, args.seeds[0], args), {"pretrained": False}, f"{REFERENCE} (from scratch)"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        runs = {pool.submit(run_method, *positional, **keywords): label for positional, keywords, label in jobs}
        for future in concurrent.futures.as_completed(runs):
            try:
                store_records(future.result(), os.path.join(args.results, PROTOCOL))
            except RuntimeError as exc:
                print(f"error: {exc}", file=sys.stderr)
                failed.append(runs[future])
    status = reid_bench(["leaderboard", "--results", args.results, "--out", args.out])
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed or status else 0


if __name__ == "__main__":
    sys.exit(main())
