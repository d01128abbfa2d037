"""``reid-bench sweep``: a grid of experiments, one ``reid-bench run`` per cell, through submitit
(:mod:`reid_bench.experiment.sweep` has the grid, the launcher and the summary)."""
import os
import shlex
import sys

from ..errors import UserError
from ..experiment import config as config_module
from ..experiment.sweep import (LAUNCHERS, RUN_FLAGS, Launcher, Outcome, build_sweep, cell_settings, cell_state,
                                launch, queued_cells, read_sweep_file, recorded_run_folders, summary)
from ..run_folder import CHECKPOINT_FILE
from . import options, run
from .base import Parser, command_line, common_parser, execute, given_options

NAME = "sweep"


def add_parser(commands, common):
    parser = commands.add_parser(NAME, parents=[common], help="run a grid of experiments (local or Slurm)",
                                 description="Run every cell of a grid (plugins x variants x datasets x recipes x "
                                             "seeds x override sets) as one `reid-bench run`, through submitit; "
                                             "cells already done are skipped, interrupted ones resumed.")
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
    options.add_config_options(parser)
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
    return parser


def _run_parser():
    """A ``reid-bench`` parser that knows the ``run`` command alone: what a cell's arguments are."""
    parser = Parser(prog="reid-bench", parents=[common_parser("plugin_module_before_command")])
    run.add_parser(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"), common_parser())
    return parser


def _parse_run(argv):
    args = _run_parser().parse_args(argv)
    args.given_options = given_options(_run_parser, argv, (run.NAME,))
    args.command_line = command_line(argv)
    return args


def run_folder_of(sweep, cell, plugins):
    """``(run folder, RunConfig)`` of ``cell``: the folder it trains in, found the way ``reid-bench run`` finds
    it; checks the cell."""
    from ..experiment.runs import run_folder  # torch: imported when a sweep runs, not for --help

    args = _parse_run(sweep.argv(cell))
    experiment = options.experiment_of_args(args, args.given_options)
    (run_config,) = config_module.run_configs(experiment)
    _, overrides = config_module.resolve_experiment(experiment, plugins)
    method = plugins.method_for_plugin(run_config.plugin)
    return run_folder(run_config, method, run_config.variant or method.default_variant, overrides), run_config


def run_cell(argv):
    """A job's body: ``reid-bench run`` in this process; a non-zero exit is an error (the job failed)."""
    print("reid-bench " + " ".join(argv), flush=True)
    code = execute(_parse_run(argv), run.command)
    if code:
        raise RuntimeError(f"reid-bench run exited with status {code} (the error is above)")
    return code


def command(args, plugins):
    """``reid-bench sweep``: exit 0 when every cell is done, 1 when one failed."""
    if args.jobs < 1:
        raise UserError(f"--jobs: expected a whole number of at least 1, got {args.jobs}")
    if args.launcher == "slurm" and not args.dry_run:
        import shutil

        missing = [tool for tool in ("sbatch", "srun", "squeue") if shutil.which(tool) is None]
        if missing:
            raise UserError(f"--launcher slurm needs Slurm's {', '.join(missing)} on this machine's PATH (run the "
                            "sweep on a login node), or use --launcher local")
    document = read_sweep_file(args.sweep_file) if args.sweep_file else {}
    sweep = build_sweep(document, plugins=args.plugins, variants=args.variants, datasets=args.datasets,
                        recipes=args.recipes, seeds=args.seeds, overrides=args.overrides,
                        run_options={flag: getattr(args, "run_" + flag) for flag in RUN_FLAGS},
                        assignments=args.assignments, config=args.config, output=args.output)
    recorded = recorded_run_folders(sweep.output)
    log_dir = os.path.join(sweep.output, "sweep-logs")
    queued = queued_cells(log_dir) if args.launcher == "slurm" and not args.dry_run else {}
    todo, outcomes, differing = [], [], []
    for cell in sweep.cells:
        folder, run_config = run_folder_of(sweep, cell, plugins)
        state, difference = cell_state(folder, recorded, cell_settings(run_config))
        if state == "differs":
            differing.append(f"{cell.label} ({folder}: {difference})")
        elif state == "done":
            outcomes.append(Outcome(cell, "skipped", folder=folder))
        elif folder in queued:
            outcomes.append(Outcome(cell, "queued", folder=f"Slurm job {queued[folder]}"))
        else:
            todo.append((cell, folder, os.path.isfile(os.path.join(folder, CHECKPOINT_FILE))))
    if differing:
        raise UserError(f"{len(differing)} cell(s) would train in run folders that hold a finished run made with other "
                        f"settings: {'; '.join(differing[:3])}{' ...' if len(differing) > 3 else ''}; give the sweep "
                        "another --output, or remove those run folders")
    if args.dry_run:
        for outcome in outcomes:
            print(f"done     {outcome.cell.label}  ({outcome.folder})")
        for cell, folder, resumed in todo:
            state = "resume " if resumed else "run    "
            print(f"{state}  {cell.label}  ({folder})\n         reid-bench {shlex.join(sweep.argv(cell))}")
        print(f"{len(sweep.cells)} cells: {len(todo)} to run, {len(outcomes)} done")
        return 0
    if todo:
        launcher = Launcher(args.launcher, args.jobs, args.time, args.partition, args.gpus, args.cpus, args.mem)
        outcomes += launch(sweep, todo, launcher, run_cell, log_dir,
                           log=lambda line: print(line, file=sys.stderr, flush=True))
    order = {cell: index for index, cell in enumerate(sweep.cells)}
    outcomes.sort(key=lambda outcome: order[outcome.cell])
    print(summary(outcomes))
    return 1 if any(outcome.status == "failed" for outcome in outcomes) else 0
