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
resolved as ``reid-bench run`` would, see :mod:`reid_bench.experiment.config`), so a typo fails the sweep, not one
job an hour in. A cell is done when its run folder holds ``model.pt`` and ``<output>/results`` holds a
record of that folder made with the cell's ``--max-iters`` and test-time options: a rerun of the sweep skips it
(a folder whose run was made with other ones stops the sweep before anything runs). Every other cell runs with ``--resume``, so a cell
that was preempted or failed continues from its last checkpoint (or starts, if it has none).

``--launcher local`` (the default) runs cells as local processes, ``--jobs`` at a time;
``--launcher slurm`` submits one job array (``--partition``, ``--gpus``, ``--cpus``, ``--time``,
``--mem``; ``--jobs`` is the array's parallelism) and returns: the same sweep run again says which cells
are done, leaves the cells whose jobs Slurm still has queued or running alone and submits the others. Each
cell's output goes to a log file under ``<output>/sweep-logs``; the summary table at the
end says which cells ran, were resumed, skipped, failed or submitted, with their logs.
"""
import contextlib
import dataclasses
import itertools
import json
import os
import re
import subprocess
import sys
import time
from typing import Optional

from ..atomic import write_text_atomic
from ..errors import UserError, did_you_mean
from ..evaluation.test_time import TestTimeOptions
from ..results.records import InvalidRecord, evaluation_label, records_in
from ..run_folder import MODEL_FILE, RESULTS_FOLDER
from .config import read_config_file

LAUNCHERS = ("local", "slurm")
GRID_KEYS = ("plugins", "variants", "datasets", "recipes", "seeds", "overrides")
FILE_KEYS = (*GRID_KEYS, "config", "set", "output")
POLL_S = 1.0
#: under ``<output>/sweep-logs``: ``{run folder: Slurm job id}`` of the cells submitted, so that a rerun of the
#: sweep leaves the cells whose jobs are still queued or running alone instead of submitting them again
SUBMITTED_FILE = "submitted.json"
#: under ``<output>/sweep-logs``: what the submitit controllers of local cells print (:func:`_stderr_into`)
CONTROLLERS_LOG = "controllers.log"
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
    """The mapping of a sweep YAML file, its keys checked (``config`` and ``output`` are paths)."""
    document = read_config_file(path, what="sweep file")
    for key in document:
        if key not in FILE_KEYS:
            raise UserError(f"sweep file {path}: unknown key {key}; {did_you_mean(key, list(FILE_KEYS))}")
    for key in ("config", "output"):
        if key in document and not isinstance(document[key], str):
            raise UserError(f"sweep file {path}: {key}: expected a path, got {document[key]!r}")
    return document


def build_sweep(document, *, plugins=(), variants=(), datasets=(), recipes=(), seeds=(), overrides=(),
                run_options=None, assignments=(), config=None, output=None):
    """The :class:`Sweep` of a sweep file's mapping (may be empty) with the values given as flags laid over
    it: the grid's lists, ``overrides`` (each a comma-separated set of ``KEY=VALUE`` assignments),
    ``run_options`` (``{option: value}`` of :data:`RUN_FLAGS`, each a ``--set`` of every cell), more
    ``assignments``, the base ``config`` file and the ``output`` folder."""
    def pick(given, key):  # a flag given wins over the file
        return given or document.get(key)

    plugins, datasets = pick(plugins, "plugins"), pick(datasets, "datasets")
    if not plugins or not datasets:
        raise UserError("a sweep needs plugins and datasets: --plugins P [P ...] --datasets D [D ...], or a sweep "
                        "file listing them")
    variants = _as_list(pick(variants, "variants") or [None], "variants", allow_none=True)
    recipes = _as_list(pick(recipes, "recipes") or ["paper"], "recipes")
    seeds = _as_list(pick(seeds, "seeds") or [0], "seeds", int)
    override_sets = _override_sets([_split_assignments(text) for text in overrides] or document.get("overrides")
                                   or [[]])
    cells = [Cell(plugin, variant, dataset, recipe, seed, override)
             for plugin, variant, dataset, recipe, override, seed in itertools.product(
                 _as_list(plugins, "plugins"), variants, _as_list(datasets, "datasets"), recipes, override_sets,
                 seeds)]
    flags = tuple(f"{flag}={value}" for flag, value in (run_options or {}).items() if value is not None)
    assignments = tuple(_as_list(document.get("set") or [], "set")) + flags + tuple(assignments)
    return Sweep(cells, config=config or document.get("config"), assignments=assignments,
                 output=output or document.get("output") or "runs")


def recorded_run_folders(output):
    """``{run folder: [its result records]}`` of the training records under ``<output>/results``."""
    found = {}
    for _, record in records_in(os.path.join(output, RESULTS_FOLDER)):
        if isinstance(record.get("run_dir"), str) and "evaluated_checkpoint" not in record:
            found.setdefault(os.path.normpath(os.path.abspath(record["run_dir"])), []).append(record)
    return found


def cell_settings(run_config):
    """What a cell's record must say besides its run folder (which already holds the recipe) for the cell to
    count as done: the ``--max-iters`` cap and the test-time options (``evaluation_label``)."""
    test_time = (run_config.test_time or TestTimeOptions()).describe()
    return _settings(run_config.max_iters, evaluation_label({"test_time": test_time}))


def _settings_of_record(record):
    """:func:`cell_settings` as a cell's record tells them."""
    try:
        label = evaluation_label(record.get("evaluation"))
    except InvalidRecord:
        label = "unreadable"
    train = record.get("train") if isinstance(record.get("train"), dict) else {}
    return _settings(train.get("max_iters"), label)


def _settings(max_iters, test_time_label):
    return {"max_iters": max_iters, "test-time": test_time_label or "defaults"}


def cell_state(folder, recorded, settings):
    """``"done"`` when ``folder`` holds ``model.pt`` and a record of it agrees with the cell's ``settings``
    (:func:`cell_settings`), ``"differs"`` (with what differs) when its records were made with other settings,
    else ``"todo"``: ``(state, difference)``."""
    records = recorded.get(os.path.normpath(os.path.abspath(folder)), [])
    if not records or not os.path.isfile(os.path.join(folder, MODEL_FILE)):
        return "todo", ""
    found = [_settings_of_record(record) for record in records]
    if settings in found:
        return "done", ""
    return "differs", "; ".join(f"{key} {found[-1][key]} where the cell has {settings[key]}" for key in settings
                                if found[-1][key] != settings[key])


@dataclasses.dataclass(frozen=True)
class Launcher:
    """Where and how cells run: ``kind`` ``local`` (``jobs`` processes at a time) or ``slurm`` (one job array
    of parallelism ``jobs`` on ``partition``, with ``gpus``, ``cpus`` and ``mem`` GB per cell); ``time``: the
    minutes a cell may run."""

    kind: str = "local"
    jobs: int = 1
    time: int = 24 * 60
    partition: Optional[str] = None
    gpus: int = 1
    cpus: int = 8
    mem: int = 64


@dataclasses.dataclass
class Outcome:
    cell: Cell
    status: str  # "ran", "resumed", "skipped" (done before), "failed", "submitted", "queued" (Slurm: submitted before)
    log: str = ""
    folder: str = ""


def _executor(launcher, log_dir):
    import submitit

    if launcher.kind == "slurm":
        executor = submitit.AutoExecutor(folder=log_dir, cluster="slurm")
        parameters = {"slurm_array_parallelism": launcher.jobs, "timeout_min": launcher.time, "cpus_per_task": launcher.cpus,
                      "gpus_per_node": launcher.gpus, "mem_gb": launcher.mem, "name": "reid-bench-sweep"}
        if launcher.partition:
            parameters["slurm_partition"] = launcher.partition
        executor.update_parameters(**parameters)
        return executor
    executor = submitit.AutoExecutor(folder=log_dir, cluster="local")
    executor.update_parameters(timeout_min=launcher.time)
    return executor


def _submitted(log_dir):
    try:
        with open(os.path.join(log_dir, SUBMITTED_FILE)) as stream:
            submitted = json.load(stream)
    except (OSError, ValueError):
        return {}
    return submitted if isinstance(submitted, dict) else {}


def queued_cells(log_dir):
    """``{run folder: job id}`` of the cells a Slurm sweep submitted (:data:`SUBMITTED_FILE`) whose jobs
    ``squeue`` still lists (pending or running)."""
    submitted = {folder: job for folder, job in _submitted(log_dir).items() if isinstance(job, str)}
    if not submitted:
        return {}
    arrays = sorted({job.split("_")[0] for job in submitted.values()})
    listed = subprocess.run(["squeue", "-h", "-r", "-o", "%i", "-j", ",".join(arrays)], capture_output=True,
                            text=True)  # fails (exit 1) when Slurm has forgotten all of them: none queued
    alive = set(listed.stdout.split()) if listed.returncode == 0 else set()
    return {folder: job for folder, job in submitted.items() if job in alive}


def _remember_submitted(log_dir, jobs):
    os.makedirs(log_dir, exist_ok=True)
    write_text_atomic(os.path.join(log_dir, SUBMITTED_FILE), json.dumps({**_submitted(log_dir), **jobs}, indent=1))


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


def launch(sweep, todo, launcher, job, log_dir, log=print):
    """Run the cells ``todo`` (``[(cell, folder, resumed)]``) as jobs calling ``job(argv)`` with each cell's
    ``reid-bench run`` arguments (:meth:`Sweep.argv`), under ``launcher`` (:class:`Launcher`); returns
    their :class:`Outcome`."""
    if launcher.kind == "local":
        with _threads_per_job(launcher.jobs):
            return _launch(sweep, todo, launcher, job, log_dir, log)
    return _launch(sweep, todo, launcher, job, log_dir, log)


def _launch(sweep, todo, launcher, job, log_dir, log):
    executor = _executor(launcher, log_dir)
    if launcher.kind == "slurm":  # submitted, not waited for: rerun the sweep to see what is done
        jobs = executor.map_array(job, [sweep.argv(cell) for cell, _, _ in todo])
        _remember_submitted(log_dir, {folder: submitted.job_id for (_, folder, _), submitted in zip(todo, jobs)})
        log(f"submitted job array {jobs[0].job_id.split('_')[0]} ({len(jobs)} cells); run the same sweep again "
            "to see which are done (done cells are skipped, interrupted ones resumed)")
        return [Outcome(cell, "submitted", _log_of(job), folder) for (cell, folder, _), job in zip(todo, jobs)]
    outcomes, waiting, running = [], list(todo), []
    try:
        while waiting or running:
            while waiting and len(running) < launcher.jobs:
                item = waiting.pop(0)
                with _stderr_into(os.path.join(log_dir, CONTROLLERS_LOG)):
                    running.append((item, executor.submit(job, sweep.argv(item[0]))))
                log(f"started {item[0].label}")
            done = [entry for entry in running if entry[1].done()]
            running = [entry for entry in running if entry not in done]
            for (cell, folder, resumed), finished in done:  # not `job`: that is the function every cell runs
                outcomes.append(_outcome(cell, folder, resumed, finished))
                log(f"{outcomes[-1].status}: {cell.label} (log {outcomes[-1].log})")
            if not done:
                time.sleep(POLL_S)
    except KeyboardInterrupt:  # the running cells stop too; the next sweep resumes them
        for _, job in running:
            job.cancel(check=False)
        raise
    return outcomes


@contextlib.contextmanager
def _stderr_into(path):
    """This process's standard error (file descriptor 2) goes to ``path`` for the block, so that a process started
    in it (submitit's controller of a local cell) writes there, not to the terminal: on Ctrl-C, which a terminal
    sends to the whole process group, each controller printed a KeyboardInterrupt traceback. The cells write
    to their own logs anyway; the sweep says it was interrupted."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "a") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


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
              for status in ("ran", "resumed", "skipped", "failed", "submitted", "queued")}
    totals = ", ".join(f"{count} {status}" for status, count in counts.items() if count)
    return tabulate(rows, headers=["cell", "status", "log / run folder"], tablefmt="github") + f"\n\n{totals}"
