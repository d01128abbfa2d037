"""Everything a GPU should show, in one command: one JSON and one markdown summary.

    python benchmarks/device_suite.py                 # on the accelerator, at most ~8 minutes
    python benchmarks/device_suite.py --smoke         # the same code paths on the CPU at tiny sizes (~1-2 min)

Parts, each in its own subprocesses under a time budget (a part that runs out is recorded as such, with what it
printed, and the suite goes on), cheapest first:

1. ``environment``: GPU name and count, driver, CUDA, cuDNN, torch, torchvision, torchreid, CPUs.
2. ``evaluation``: ``benchmarks/eval_scale.py`` at Market-1501 and MSMT17 scale (random L2-normalised 2048-d
   features, the published query / gallery sizes) on the device, with and without re-ranking; the README's
   CPU figures are the reference.
3. ``throughput``: ``benchmarks/train_throughput.py`` for every built-in method at 256x128, batch 64: fp32,
   ``--amp bf16`` and ``--amp fp16``, each with and without ``--channels-last``, and ``--compile`` for the
   baseline; trainer and model-only images/s and peak GPU memory per configuration (``--smoke``: every
   method in fp32, the baseline with bf16 and channels-last; no compile, whose CPU build takes minutes). The fp32 configuration
   also times torchreid's own ``ImageTripletEngine`` on the baseline (same model, data and batch).
4. ``distributed``: ``torchrun --nproc_per_node=1`` (and 2 where there are two GPUs) running the baseline for
   a few iterations over NCCL; the record's ``distributed`` block is checked (world size, backend).
5. ``embedded``: ``reid-bench run --plugin baseline --dataset synthetic --recipe uniform`` at the protocol's full
   budget on the device (its pretraining, made on the CPU, included), wall time and mAP: what the synthetic
   board costs on a GPU.

``--smoke`` runs every part on the CPU: tiny inputs (32x16, batch 8, 2 iterations), the ``tiny`` evaluation
scale, torchrun over gloo, and the embedded run for 2 iterations from scratch; mixed precision is then off
(the harness uses it on CUDA only) but the options go through the same code. Results go to
``--out`` (default ``benchmarks/results/device-<date>``): ``device_suite.json`` (every part, always every
key) and ``device_suite.md``.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
#: seconds per part on the accelerator (8 minutes in all); --smoke has its own
BUDGET = {"environment": 20, "evaluation": 90, "throughput": 190, "distributed": 50, "embedded": 130}
SMOKE_BUDGET = {"environment": 20, "evaluation": 120, "throughput": 300, "distributed": 120, "embedded": 120}
#: --smoke's run size for the distributed and embedded parts
SMOKE_RUN = ["--input-size", "32", "16", "--batch-size", "8", "--max-iters", "2"]
#: (label, train_throughput.py options) of the throughput part
THROUGHPUT_CONFIGS = (
    ("fp32", []), ("fp32 channels-last", ["--channels-last"]),
    ("bf16", ["--amp", "bf16"]), ("bf16 channels-last", ["--amp", "bf16", "--channels-last"]),
    ("fp16", ["--amp", "fp16"]), ("fp16 channels-last", ["--amp", "fp16", "--channels-last"]),
)


def run_command(command, timeout, env=None):
    """``{"command", "rc", "wall_s", "timed_out", "output_tail", "json"}``: the command's exit status and the
    last JSON object it printed (``None`` if none), its output's tail for the summary."""
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=max(timeout, 1), cwd=REPO,
                              env={**os.environ, **(env or {})})
        output, rc, timed_out = done.stdout + done.stderr, done.returncode, False
    except subprocess.TimeoutExpired as expired:
        output = "".join(part.decode() if isinstance(part, bytes) else (part or "")
                         for part in (expired.stdout, expired.stderr))
        rc, timed_out = None, True
    parsed = None
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
                break
            except ValueError:
                continue
    return {"command": " ".join(command), "rc": rc, "wall_s": round(time.perf_counter() - started, 1),
            "timed_out": timed_out, "output_tail": output[-1500:], "json": parsed}


class Clock:
    """A part's remaining seconds."""

    def __init__(self, seconds):
        self.deadline = time.perf_counter() + seconds

    def left(self):
        return self.deadline - time.perf_counter()


def environment(args, clock):
    import torch
    import torchvision

    info = {"python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(), "cpus": os.cpu_count(),
            "cuda_available": torch.cuda.is_available(), "device": args.device}
    try:
        import importlib.metadata

        info["torchreid"] = importlib.metadata.version("torchreid")
    except Exception:  # noqa: BLE001 - a missing distribution is a fact to report, not an error
        info["torchreid"] = None
    if torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        smi = run_command(["nvidia-smi", "--query-gpu=driver_version,memory.total", "--format=csv,noheader"],
                          clock.left()) if _has("nvidia-smi") else None
        info["driver"] = smi["output_tail"].strip() if smi and smi["rc"] == 0 else None
    else:
        info["gpus"], info["driver"] = [], None
    return info


def _has(program):
    return any(os.access(os.path.join(folder, program), os.X_OK) for folder in os.environ.get("PATH", "").split(":"))


def evaluation(args, clock):
    scales = ["tiny"] if args.smoke else ["market", "msmt17"]
    device = "cpu" if args.smoke else args.device
    cases = []
    for scale in scales:
        for rerank in (False, True):
            command = [sys.executable, os.path.join(HERE, "eval_scale.py"), "--scale", scale, "--device", device,
                       "--torchreid", "never", "--repeats", "1"] + (["--rerank"] if rerank else [])
            cases.append({"scale": scale, "rerank": rerank, **run_command(command, clock.left())})
    return cases


def throughput(args, clock):
    size = ["--input-size", "32", "16", "--batch-size", "8", "--iters", "2", "--warmup", "1"] if args.smoke else \
        ["--input-size", "256", "128", "--batch-size", "64", "--iters", "8", "--warmup", "3"]
    base = [sys.executable, os.path.join(HERE, "train_throughput.py"), "--device", args.device, "--rounds", "1", *size,
            *(["--methods", *args.methods] if args.methods else [])]
    configs = [(label, options + ([] if label == "fp32" else ["--no-torchreid"]))
               for label, options in THROUGHPUT_CONFIGS]
    if args.smoke:  # every method plainly, the baseline with the options; torch.compile only on the device
        configs = [configs[0], (configs[3][0] + " (baseline)", configs[3][1] + ["--methods", "baseline"])]
    else:
        configs.append(("fp32 compile (baseline)", ["--compile", "--methods", "baseline", "--no-torchreid"]))
    results = []
    for position, (label, options) in enumerate(configs):
        share = clock.left() / (len(configs) - position)  # what is left, shared by the configurations to come
        results.append({"config": label, **run_command(base + options, share)})
    return results


def distributed(args, clock):
    import torch

    counts = [1] + ([2] if torch.cuda.device_count() >= 2 and not args.smoke else [])
    results = []
    for count in counts:
        with tempfile.TemporaryDirectory() as output:
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={count}",
                       "-m", "reid_bench", "run", "--plugin", "baseline", "--dataset", "synthetic", "--epochs", "1",
                       "--no-pretrained", "--no-rerank", "--no-progress", "--output", output,
                       *(["--device", "cpu", *SMOKE_RUN] if args.smoke else ["--device", "cuda", "--max-iters", "4"])]
            result = run_command(command, clock.left() / (len(counts) - len(results)))
            records = glob.glob(os.path.join(output, "results", "*.json"))
            block = None
            if records:
                with open(records[0]) as stream:
                    block = json.load(stream).get("distributed")
            result["record_distributed"] = block
            result["checked"] = bool(block) and block.get("world_size") == count
            result["nproc"] = count
            results.append(result)
    return results


def embedded(args, clock):
    with tempfile.TemporaryDirectory() as output:
        extra = ["--epochs", "1", "--no-pretrained", "--device", "cpu", *SMOKE_RUN] if args.smoke else \
            ["--device", args.device]
        command = [sys.executable, "-m", "reid_bench", "run", "--plugin", "baseline", "--dataset", "synthetic",
                   "--recipe", "uniform", "--no-progress", "--output", output, *extra]
        result = run_command(command, clock.left())
        records = glob.glob(os.path.join(output, "results", "*.json"))
        if records:
            with open(records[0]) as stream:
                record = json.load(stream)
            result["mAP"] = record["metrics"]["mAP"]
            result["train_wall_s"] = record["train"].get("wall_s")
            result["pretrained"] = record["pretrained"]
        return result


def summary_markdown(report):
    lines = [f"# Device suite ({'smoke, CPU' if report['smoke'] else report['environment'].get('gpus')})", "",
             f"{report['started_at']}, {report['wall_s']:.0f} s in all.", "", "## Environment", "",
             "```", json.dumps(report["environment"], indent=1), "```", "", "## Evaluation", "",
             "| scale | re-ranking | ours (s) | peak MiB | rc |", "| --- | --- | --- | --- | --- |"]
    for case in report["evaluation"]:
        figures = case["json"] or {}
        lines.append(f"| {case['scale']} | {case['rerank']} | {figures.get('ours_s')} | {figures.get('ours_peak_mib')} "
                     f"| {'timeout' if case['timed_out'] else case['rc']} |")
    lines += ["", "## Training throughput (images/s)", "",
              "| configuration | method | trainer | model-only | peak GPU MiB | torchreid engine |",
              "| --- | --- | --- | --- | --- | --- |"]
    for config in report["throughput"]:
        rows = (config["json"] or {}).get("rows", [])
        if not rows:
            lines.append(f"| {config['config']} | ({'timeout' if config['timed_out'] else 'rc ' + str(config['rc'])}) "
                         "| | | | |")
        for row in rows:
            peak = row.get("peak_gpu_mib")
            lines.append(f"| {config['config']} | {row['method']} | {row['trainer_images_per_s']:.1f} | "
                         f"{row['model_only_images_per_s']:.1f} | {'' if peak is None else f'{peak:.0f}'} | "
                         f"{row.get('torchreid_images_per_s', '')} |")
    lines += ["", "## Distributed", "", "| processes | rc | wall (s) | record's distributed block |",
              "| --- | --- | --- | --- |"]
    for result in report["distributed"]:
        lines.append(f"| {result['nproc']} | {result['rc']} | {result['wall_s']} | {result['record_distributed']} |")
    embedded_part = report["embedded"]
    lines += ["", "## Embedded protocol, baseline", "",
              f"rc {embedded_part['rc']}, wall {embedded_part['wall_s']} s, training {embedded_part.get('train_wall_s')} s, "
              f"mAP {embedded_part.get('mAP')}, weights {embedded_part.get('pretrained')}", ""]
    return "\n".join(lines)


PART_FUNCTIONS = {"environment": environment, "evaluation": evaluation, "throughput": throughput,
                  "distributed": distributed, "embedded": embedded}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="every part on the CPU at tiny sizes")
    parser.add_argument("--out", help="where device_suite.json and .md go (default benchmarks/results/device-<date>)")
    parser.add_argument("--device", default="cuda", help="the accelerator (default cuda; --smoke: cpu)")
    parser.add_argument("--methods", nargs="+", help="the throughput part's methods (default: every registered one)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.device = "cpu"
    started_at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%SZ")
    out = args.out or os.path.join(HERE, "results", f"device-{started_at}")
    os.makedirs(out, exist_ok=True)
    budget = SMOKE_BUDGET if args.smoke else BUDGET
    report = {"smoke": args.smoke, "started_at": started_at, "budget_s": budget}
    started = time.perf_counter()
    for name in PART_FUNCTIONS:
        print(f"[{time.perf_counter() - started:5.0f} s] {name} (budget {budget[name]} s)", flush=True)
        report[name] = PART_FUNCTIONS[name](args, Clock(budget[name]))
    report["wall_s"] = time.perf_counter() - started
    with open(os.path.join(out, "device_suite.json"), "w") as stream:
        json.dump(report, stream, indent=1)
    with open(os.path.join(out, "device_suite.md"), "w") as stream:
        stream.write(summary_markdown(report))
    print(f"[{report['wall_s']:5.0f} s] done: {out}/device_suite.json and device_suite.md", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
