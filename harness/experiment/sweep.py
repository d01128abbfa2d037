"""``reid-bench sweep``: a grid of experiments, one ``reid-bench run`` per cell, launched through submitit.

A grid is the product of plugins x variants x datasets x recipes x seeds x override sets, given as flags
and/or a sweep YAML file (flags win)::

    plugins: [baseline, ccan]
    variants: [null]            # null: each method's default variant
    datasets: [synthetic]
    recipes: [uniform]
    seeds: [0, 1]
    config: base.yaml           # optional: a run config every cell starts from
    set: [epochs=4]             # --set assignments every cell gets
    overrides:                  # one more dimension: each entry is a list of --set assignments
      - []
      - [recipe.stages.0.optimizer.lr=1e-3]
    output: runs/sweep

Every cell is checked before anything is launched (its plugin, variant, dataset and overrides are
resolved as ``reid-bench run`` would, see :mod:`reid_bench.config`), so a typo fails the sweep, not one
job an hour in. A cell is done when its run folder holds ``model.pt`` and ``<output>/results`` holds a
record of that folder: a rerun of the sweep skips it. Every other cell runs with ``--resume``, so a cell
that was preempted or failed continues from its last checkpoint (or starts, if it has none).

``--launcher local`` (the default) runs cells as local processes, ``--jobs`` at a time;
``--launcher slurm`` submits one job array (``--partition``, ``--gpus``, ``--cpus``, ``--time``,
``--mem``; ``--jobs`` is the array's parallelism) and returns: the same sweep run again says which cells
are done. Each cell's output goes to a log file under ``<output>/sweep-logs``; the summary table at the
end says which cells ran, were resumed, skipped, failed or submitted, with their logs.
"""
import contextlib
import dataclasses
import glob
import itertools
import json
import os
import re
import shlex
import sys
import time
from typing import Optional

from ..errors import UserError

LAUNCHERS = ("local", "slurm")
GRID_KEYS = ("plugins", "variants", "datasets", "recipes", "seeds", "overrides")
FILE_KEYS = (*GRID_KEYS, "config", "set", "output")
POLL_S = 1.0
#: run options a sweep also takes as flags (each is ``--set OPTION=VALUE`` for every cell)
RUN_FLAGS = ("epochs", "max_iters", "batch_size", "root", "device", "workers", "pretrained_from")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One run of the grid."""

    plugin: str
    variant: Optional[str]
    dataset: str
    recipe: str
    seed: int
    overrides: tuple = ()  # KEY=VALUE assignments of this cell's override set

    @property
    def label(self):
        parts = [self.plugin, self.variant or "default", self.dataset, self.recipe, f"seed{self.seed}"]
        return " ".join(parts) + (f" [{', '.join(self.overrides)}]" if self.overrides else "")


@dataclasses.dataclass
class Sweep:
    """A grid with what every cell shares."""

    cells: list
    config: Optional[str] = None
    assignments: tuple = ()  # --set for every cell
    output: str = "runs"

    def argv(self, cell):
        """The ``reid-bench run`` arguments of ``cell``."""
        argv = ["run", "--plugin", cell.plugin, "--dataset", cell.dataset, "--recipe", cell.recipe,
                "--seeds", str(cell.seed), "--output", self.output, "--resume", "--no-progress"]
        if cell.variant:
            argv += ["--variant", cell.variant]
        if self.config:
            argv = argv[:1] + ["--config", self.config] + argv[1:]
        for assignment in (*self.assignments, *cell.overrides):
            argv += ["--set", assignment]
        return argv


def _as_list(value, key, kind=str, allow_none=False):
    values = value if isinstance(value, list) else [value]
    for item in values:
        if not (isinstance(item, kind) and not isinstance(item, bool)) and not (allow_none and item is None):
            raise UserError(f"sweep {key}: expected a list of {kind.__name__}{' or null' if allow_none else ''} "
                            f"values, got {value!r}")
    return values


def _override_sets(value):
    sets = value if isinstance(value, list) else [value]
    result = []
    for entry in sets:
        entry = [] if entry is None else (entry if isinstance(entry, list) else [entry])
        if not all(isinstance(item, str) and "=" in item for item in entry):
            raise UserError(f"sweep overrides: expected lists of KEY=VALUE assignments, got {entry!r}")
        result.append(tuple(entry))
    return result


def _split_assignments(text):
    """``"a=1,b.c=[2,3]"`` as ``["a=1", "b.c=[2,3]"]``: split at commas that start another ``KEY=``."""
    return [part for part in re.split(r",(?=[A-Za-z_][A-Za-z0-9_.]*=)", text) if part]


def read_sweep_file(path):
    """The mapping of a sweep YAML file, its keys checked."""
    from .config import _near, read_config_file

    document = read_config_file(path)
    for key in document:
        if key not in FILE_KEYS:
            raise UserError(f"sweep file {path}: unknown key {key}; {_near(key, list(FILE_KEYS))}")
    return document


def build_sweep(document, args):
    """The :class:`Sweep` of a sweep file's mapping (may be empty) with the flags of ``args`` laid over it."""
    def pick(key, flag):
        given = getattr(args, flag)
        return given if given not in (None, []) else document.get(key)

    plugins = pick("plugins", "plugins")
    datasets = pick("datasets", "datasets")
    if not plugins or not datasets:
        raise UserError("a sweep needs plugins and datasets: --plugins P [P ...] --datasets D [D ...], or a sweep "
                        "file listing them")
    variants = _as_list(pick("variants", "variants") or [None], "variants", allow_none=True)
    recipes = _as_list(pick("recipes", "recipes") or ["paper"], "recipes")
    seeds = _as_list(pick("seeds", "seeds") or [0], "seeds", int)
    overrides = _override_sets([_split_assignments(text) for text in args.overrides] or document.get("overrides")
                               or [[]])
    cells = [Cell(plugin, variant, dataset, recipe, seed, override)
             for plugin, variant, dataset, recipe, override, seed in itertools.product(
                 _as_list(plugins, "plugins"), variants, _as_list(datasets, "datasets"), recipes, overrides, seeds)]
    flags = tuple(f"{flag}={getattr(args, 'run_' + flag)}" for flag in RUN_FLAGS
                  if getattr(args, "run_" + flag) is not None)
    assignments = tuple(_as_list(document.get("set") or [], "set")) + flags + tuple(args.assignments)
    return Sweep(cells, config=args.config or document.get("config"), assignments=assignments,
                 output=args.output or document.get("output") or "runs")


def run_folder_of(sweep, cell, plugins):
    """The run folder ``cell`` trains in, found the way ``reid-bench run`` finds it; checks the cell."""
    from .. import cli
    from . import config as config_module
    from .runs import run_folder

    args = cli.build_parser().parse_args(sweep.argv(cell))
    experiment = config_module.experiment_from_args(args, cli.given_options(sweep.argv(cell)))
    (run_config,) = config_module.run_configs(experiment)
    _, overrides = config_module.resolve_experiment(experiment, plugins)
    method = plugins.method_for_plugin(run_config.plugin)
    return run_folder(run_config, method, run_config.variant or method.default_variant, overrides)


def recorded_run_folders(output):
    """The run folders that have a result record under ``<output>/results``."""
    folders = set()
    for path in glob.glob(os.path.join(output, "results", "**", "*.json"), recursive=True):
        try:
            with open(path) as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("run_dir"), str) and "evaluated_checkpoint" not in record:
            folders.add(os.path.normpath(os.path.abspath(record["run_dir"])))
    return folders


def is_done(folder, recorded):
    return os.path.isfile(os.path.join(folder, "model.pt")) and os.path.normpath(os.path.abspath(folder)) in recorded


def run_cell(argv):
    """A job's body: ``reid-bench run`` in this process; a non-zero exit is an error (the job failed)."""
    from ..cli import main

    print("reid-bench " + " ".join(argv), flush=True)
    code = main(argv)
    if code:
        raise RuntimeError(f"reid-bench run exited with status {code} (the error is above)")
    return code


@dataclasses.dataclass
class Outcome:
    cell: Cell
    status: str  # "ran", "resumed", "skipped" (done before), "failed", "submitted" (Slurm)
    log: str = ""
    folder: str = ""


def _executor(args, log_dir):
    import submitit

    if args.launcher == "slurm":
        executor = submitit.AutoExecutor(folder=log_dir, cluster="slurm")
        parameters = {"slurm_array_parallelism": args.jobs, "timeout_min": args.time, "cpus_per_task": args.cpus,
                      "gpus_per_node": args.gpus, "mem_gb": args.mem, "name": "reid-bench-sweep"}
        if args.partition:
            parameters["slurm_partition"] = args.partition
        executor.update_parameters(**parameters)
        return executor
    executor = submitit.AutoExecutor(folder=log_dir, cluster="local")
    executor.update_parameters(timeout_min=args.time)
    return executor


def _log_of(job):
    return str(job.paths.stdout)


@contextlib.contextmanager
def _threads_per_job(jobs):
    """Local cells share this machine's CPUs: each gets ``CPUs // jobs`` BLAS / OpenMP threads unless
    ``OMP_NUM_THREADS`` is already set (the children inherit the environment)."""
    if "OMP_NUM_THREADS" in os.environ:
        yield
        return
    threads = str(max(1, len(os.sched_getaffinity(0)) // jobs))
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = threads
    try:
        yield
    finally:
        del os.environ["OMP_NUM_THREADS"], os.environ["MKL_NUM_THREADS"]


def launch(sweep, todo, args, log_dir, log=print):
    """Run the cells ``todo`` (``[(cell, folder, resumed)]``); returns their :class:`Outcome`."""
    if args.launcher == "local":
        with _threads_per_job(args.jobs):
            return _launch(sweep, todo, args, log_dir, log)
    return _launch(sweep, todo, args, log_dir, log)


def _launch(sweep, todo, args, log_dir, log):
    executor = _executor(args, log_dir)
    if args.launcher == "slurm":  # submitted, not waited for: rerun the sweep to see what is done
        jobs = executor.map_array(run_cell, [sweep.argv(cell) for cell, _, _ in todo])
        log(f"submitted job array {jobs[0].job_id.split('_')[0]} ({len(jobs)} cells); run the same sweep again "
            "to see which are done (done cells are skipped, interrupted ones resumed)")
        return [Outcome(cell, "submitted", _log_of(job), folder) for (cell, folder, _), job in zip(todo, jobs)]
    outcomes, waiting, running = [], list(todo), []
    try:
        while waiting or running:
            while waiting and len(running) < args.jobs:
                item = waiting.pop(0)
                running.append((item, executor.submit(run_cell, sweep.argv(item[0]))))
                log(f"started {item[0].label}")
            done = [entry for entry in running if entry[1].done()]
            running = [entry for entry in running if entry not in done]
            for (cell, folder, resumed), job in done:
                outcomes.append(_outcome(cell, folder, resumed, job))
                log(f"{outcomes[-1].status}: {cell.label} (log {outcomes[-1].log})")
            if not done:
                time.sleep(POLL_S)
    except KeyboardInterrupt:  # the running cells stop too; the next sweep resumes them
        for _, job in running:
            job.cancel(check=False)
        raise
    return outcomes


def _outcome(cell, folder, resumed, job):
    try:
        job.result()
        status = "resumed" if resumed else "ran"
    except Exception:  # the job's error is in its log
        status = "failed"
    return Outcome(cell, status, _log_of(job), folder)


def summary(outcomes):
    from tabulate import tabulate

    rows = [[outcome.cell.label, outcome.status, outcome.log or outcome.folder] for outcome in outcomes]
    counts = {status: sum(o.status == status for o in outcomes)
              for status in ("ran", "resumed", "skipped", "failed", "submitted")}
    totals = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    return tabulate(rows, headers=["cell", "status", "log / run folder"], tablefmt="github") + f"\n\n{totals}"


def add_arguments(parser):
    """The ``reid-bench sweep`` options."""
    from .config import add_arguments as add_config_arguments

    parser.add_argument("sweep_file", nargs="?", metavar="SWEEP.yaml", help="a sweep file (see --help's description)")
    parser.add_argument("--plugins", "--plugin", nargs="+", default=[], metavar="P",
                        help="plugins (or methods) of the grid")
    parser.add_argument("--variants", "--variant", nargs="+", default=[], metavar="V",
                        help="variants (default: each default)")
    parser.add_argument("--datasets", "--dataset", nargs="+", default=[], metavar="D", help="protocols of the grid")
    parser.add_argument("--recipes", "--recipe", nargs="+", default=[], metavar="R", help="recipes (default paper)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[], metavar="N", help="seeds (default 0)")
    parser.add_argument("--overrides", action="append", default=[], metavar="K=V[,K=V]",
                        help="one override set of the grid (comma-separated --set assignments); repeatable, "
                             "each is a value of that dimension")
    add_config_arguments(parser)
    for flag in RUN_FLAGS:
        parser.add_argument(f"--{flag.replace('_', '-')}", dest=f"run_{flag}", metavar="VALUE",
                            help=f"every cell's --{flag.replace('_', '-')} (the same as --set {flag}=VALUE)")
    parser.add_argument("--output", help="run folders, results/ and sweep-logs/ go here (default runs)")
    parser.add_argument("--launcher", choices=LAUNCHERS, default="local",
                        help="local processes (default) or a Slurm job array, both through submitit")
    parser.add_argument("--jobs", type=int, default=1, help="cells at a time (Slurm: the array's parallelism)")
    parser.add_argument("--partition", help="Slurm partition")
    parser.add_argument("--gpus", type=int, default=1, help="Slurm: GPUs per cell (default 1)")
    parser.add_argument("--cpus", type=int, default=8, help="Slurm: CPUs per cell (default 8)")
    parser.add_argument("--time", type=int, default=24 * 60, help="minutes a cell may run (default 1440)")
    parser.add_argument("--mem", type=int, default=64, help="Slurm: GB of memory per cell (default 64)")
    parser.add_argument("--dry-run", action="store_true", help="print the cells and their state; run nothing")


def command(args, plugins, log=print):
    """``reid-bench sweep``: exit 0 when every cell is done, 1 when one failed."""
    if args.jobs < 1:
        raise UserError(f"--jobs: expected a whole number of at least 1, got {args.jobs}")
    if args.launcher == "slurm" and not args.dry_run:
        import shutil

        missing = [tool for tool in ("sbatch", "srun") if shutil.which(tool) is None]
        if missing:
            raise UserError(f"--launcher slurm needs Slurm's {' and '.join(missing)} on this machine's PATH (run the "
                            "sweep on a login node), or use --launcher local")
    document = read_sweep_file(args.sweep_file) if args.sweep_file else {}
    sweep = build_sweep(document, args)
    recorded = recorded_run_folders(sweep.output)
    todo, outcomes = [], []
    for cell in sweep.cells:
        folder = run_folder_of(sweep, cell, plugins)
        if is_done(folder, recorded):
            outcomes.append(Outcome(cell, "skipped", folder=folder))
        else:
            todo.append((cell, folder, os.path.isfile(os.path.join(folder, "checkpoint.pt"))))
    if args.dry_run:
        for outcome in outcomes:
            print(f"done     {outcome.cell.label}  ({outcome.folder})")
        for cell, folder, resumed in todo:
            state = "resume " if resumed else "run    "
            print(f"{state}  {cell.label}  ({folder})\n         reid-bench {shlex.join(sweep.argv(cell))}")
        print(f"{len(sweep.cells)} cells: {len(todo)} to run, {len(outcomes)} done")
        return 0
    if todo:
        log_dir = os.path.join(sweep.output, "sweep-logs")
        outcomes += launch(sweep, todo, args, log_dir, log=lambda line: print(line, file=sys.stderr, flush=True))
    order = {cell: index for index, cell in enumerate(sweep.cells)}
    outcomes.sort(key=lambda outcome: order[outcome.cell])
    print(summary(outcomes))
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0
