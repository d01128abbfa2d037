"""Measure the `synthetic` leaderboard: every built-in method's full model and its untrained start, three seeds.

For each method registered by a plugin shipped with reid-bench (``reid_bench.plugins.*``: the baseline
and the paper plugins, found in the plugin registry, not listed here) and each seed this runs, with
``reid-bench sweep`` (``reid_bench.experiment.sweep``: each cell its own process, ``--jobs`` at a time sharing
the CPU threads; a cell already done is skipped and an interrupted one resumed, so rerunning the script
continues it, across sessions too), in this order:

- ``untrained``: every method at 0 epochs (``--set epochs=0``) on the protocol's pretrained weights, the
  row's untrained start that the leaderboard's training-gain column compares with;
- ``trained``: every method at the protocol's budget (``--recipes uniform``);
- the ablation variants of :data:`ABLATIONS` (SAN's Table I rows), untrained and trained;
- the baseline's references: untrained from scratch (chance) and trained from scratch (first seed only),
  what the pretraining adds.

Every model the sweeps made is then tested on ``synthetic-shift`` (``reid-bench eval --checkpoint ... --dataset
synthetic-shift``), the ``synthetic->synthetic-shift`` page. It copies the result records into
``leaderboards/results/synthetic/`` (replacing earlier records of the same method, variant, training
length, pretraining and seed) and regenerates ``leaderboards/`` with ``reid-bench leaderboard``.

The schedule is CPU-sized: the synthetic protocol fine-tunes backbones pretrained on generic dead-leaves
images (:mod:`reid_bench.models.pretraining`, made once per architecture and geometry and cached) at 64x32
under its budget (16 epochs of 32-image batches, one warm-up epoch, x0.1 for the last two), shortened to
``--epochs`` when given; the uniform recipe gives every method the same optimizer, P x K batches and
augmentation, so the table compares methods, not recipes. The numbers say nothing about the
methods' accuracy on real data.

Usage (from anywhere; paths default to this checkout)::

    python benchmarks/synthetic_leaderboard.py                    # all built-in methods, seeds 0 1 2
    python benchmarks/synthetic_leaderboard.py --methods baseline ccan --seeds 0 1
    python benchmarks/synthetic_leaderboard.py --dry-run          # the cells and their state

Exits with status 1 when a run failed (the leaderboards are regenerated from what exists anyway); a
fresh start needs a fresh ``--workdir`` (or the old one removed).
"""
import argparse
import glob
import json
import os
import shutil
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROTOCOL = "synthetic"
SHIFTED = "synthetic-shift"  # the embedded second domain every trained model is also tested on
BUILTIN_PLUGIN_PACKAGE = "reid_bench.plugins."
REFERENCE = "baseline"
#: ablation rows beside the methods' default variants: SAN's Table I (its triplet-only ResNet-50, the reference
#: the blocks are measured against; sharp attention blocks; + context-aware units; the default adds the TV penalty)
ABLATIONS = {"sharp_attention": ("baseline", "sab", "sab+cu")}


def builtin_methods(plugins):
    """Names of the methods registered by the plugins shipped in ``reid_bench.plugins``."""
    return [
        name for name in plugins.methods.names()
        if plugins.plugins[plugins.methods.owner(name)].__name__.startswith(BUILTIN_PLUGIN_PACKAGE)
    ]


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
    """The per-query file beside a record (``reid_bench.results.per_query``), or ``None``."""
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


def test_on_shift(output, reid_bench):
    """Test every model a sweep trained in ``output`` on :data:`SHIFTED` with ``reid-bench eval`` (its records
    under ``output/cross-domain/<run folder>/results``; a model already tested there is skipped). Returns
    whether an evaluation failed."""
    from reid_bench.run_folder import MODEL_FILE, RESULTS_FOLDER

    failed = False
    for checkpoint in sorted(glob.glob(os.path.join(output, "*", "*", PROTOCOL, "*", "seed*", MODEL_FILE))):
        folder = os.path.dirname(checkpoint)
        target = os.path.join(output, "cross-domain", os.path.relpath(folder, output))
        if glob.glob(os.path.join(target, RESULTS_FOLDER, "*.json")):
            continue
        status = reid_bench(["eval", "--checkpoint", checkpoint, "--dataset", SHIFTED, "--output", target,
                             "--rerank"])
        failed = failed or status != 0
    return failed


def sweeps(methods, args):
    """``(output folder, reid-bench sweep arguments)`` of every sweep, cheapest first: each method's
    untrained start, then the trained cells, then the baseline's references."""
    # re-ranked too (off by default; cheap on synthetic's gallery): the pages keep their re-ranked columns
    grid = ["--datasets", PROTOCOL, "--recipes", "uniform", "--jobs", str(args.jobs), "--set", "rerank=true"]
    epochs = ["--set", f"epochs={args.epochs}"] if args.epochs is not None else []
    seeds = [str(seed) for seed in args.seeds]
    untrained = ["--set", "epochs=0"]
    ablations = [(method, variants) for method, variants in ABLATIONS.items() if method in methods]
    plan = [("untrained", ["--plugins", *methods, "--seeds", *seeds, *untrained])]
    plan += [(f"untrained-{method}", ["--plugins", method, "--variants", *variants, "--seeds", *seeds, *untrained])
             for method, variants in ablations]
    plan += [("trained", ["--plugins", *methods, "--seeds", *seeds, *epochs])]
    plan += [(f"trained-{method}", ["--plugins", method, "--variants", *variants, "--seeds", *seeds, *epochs])
             for method, variants in ablations]
    if REFERENCE in methods:
        plan += [("untrained-scratch", ["--plugins", REFERENCE, "--seeds", *seeds, "--set", "epochs=0",
                                        "--set", "pretrained=false"]),
                 ("scratch", ["--plugins", REFERENCE, "--seeds", seeds[0], "--set", "pretrained=false", *epochs])]
    return [(os.path.join(args.workdir, name), [*extra, *grid, "--output", os.path.join(args.workdir, name)])
            for name, extra in plan]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", help="only these methods (default: every built-in one)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds per method (default 0 1 2)")
    parser.add_argument("--epochs", type=int, help="training epochs per run (default: the protocol's budget)")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (default 1)")
    parser.add_argument("--workdir", default=os.path.join(REPO, "runs", "synthetic-leaderboard"),
                        help="the sweeps' output folders (run folders, results/, sweep-logs/)")
    parser.add_argument("--results", default=os.path.join(REPO, "leaderboards", "results"),
                        help="the committed result records the leaderboards are made from; this script's "
                             f"go to its {PROTOCOL}/ folder")
    parser.add_argument("--out", default=os.path.join(REPO, "leaderboards"), help="leaderboard folder")
    parser.add_argument("--dry-run", action="store_true", help="print the sweeps' cells; run nothing")
    args = parser.parse_args(argv)

    from reid_bench.cli import main as reid_bench
    from reid_bench.plugin_manager import load_plugins
    from reid_bench.run_folder import RESULTS_FOLDER

    methods = args.methods or builtin_methods(load_plugins())
    print(f"methods: {', '.join(methods)}; seeds {args.seeds}; epochs {args.epochs or 'of the budget'}; "
          f"{args.jobs} at once", flush=True)
    failed = False
    for output, sweep in sweeps(methods, args):
        status = reid_bench(["sweep", *sweep, *(["--dry-run"] if args.dry_run else [])])
        failed = failed or status != 0
        if not args.dry_run:
            failed = test_on_shift(output, reid_bench) or failed
            store_records(sorted(glob.glob(os.path.join(output, RESULTS_FOLDER, "*.json")))
                          + sorted(glob.glob(os.path.join(output, "cross-domain", "**", RESULTS_FOLDER, "*.json"),
                                             recursive=True)),
                          os.path.join(args.results, PROTOCOL))
    if args.dry_run:
        return 0
    status = reid_bench(["leaderboard", "--results", args.results, "--out", args.out])
    return 1 if failed or status else 0


if __name__ == "__main__":
    sys.exit(main())
