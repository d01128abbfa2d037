"""Experiment trackers: where a run reports its losses, learning rate and metrics as it goes
(``reid-bench run --tracker tensorboard|mlflow|none``).

A :class:`Tracker` is opened per run (one seed) by :func:`open_tracker` and handed to the
:class:`~reid_bench.engine.Trainer`, which calls it and never a logging library itself:

- :meth:`~Tracker.begin_training` / :meth:`~Tracker.end_training` around the training of a run folder (a
  multi-trial protocol trains one per trial, ``<run>/trial<K>``);
- :meth:`~Tracker.log_iteration` after every step (the unweighted loss terms and the weighted total);
- :meth:`~Tracker.log_epoch` after every epoch (its rate, speed, iteration count and mean losses);
- :meth:`~Tracker.log_evaluation` after each ``--eval-every`` evaluation;
- :meth:`~Tracker.log_result` with each result record once it is written, then :meth:`~Tracker.close`.

The base class does nothing (``--tracker none``); a new tracker subclasses it and overrides what it keeps.
:class:`TensorBoardTracker` writes ``<run>/tensorboard`` exactly as the trainer always has (``loss/<term>``
and ``loss/total`` per iteration, ``train/lr``, ``train/images_per_s`` and ``train/iterations`` per 0-based
epoch, ``eval/<metric>`` per epochs done), which ``reid-bench visualize curves`` reads. :class:`MlflowTracker`
makes one MLflow run per seed (:mod:`mlflow` is imported only when it is chosen).
"""
import math
import os
import re
import time

from ..errors import UserError
from ..run_folder import CONFIG_FILE

TRACKERS = ("tensorboard", "mlflow", "none")
MLFLOW_INSTALL = 'pip install "reid-bench[mlflow]"'


class Tracker:
    """A run's tracker that keeps nothing (``--tracker none``); the methods the trainer and the run call."""

    def begin_training(self, run_dir):
        """Training in ``run_dir`` (the run folder, or a trial's folder below it) starts."""

    def log_iteration(self, iteration, total, losses):
        """After step ``iteration`` (1-based, counted over the whole run): ``total``, the weighted loss, and
        ``losses``, ``{term: unweighted value}``."""

    def log_epoch(self, epoch, *, lr, images_per_s, iterations, losses):
        """After the epoch of 0-based index ``epoch``: its learning rate, images/s, the iteration count at its
        end and ``losses``, the epoch's mean of each term (and of ``total``)."""

    def log_evaluation(self, epochs_done, metrics):
        """The ``--eval-every`` metrics after ``epochs_done`` epochs (``None`` values are not computed)."""

    def end_training(self):
        """Training of the folder :meth:`begin_training` named has ended (or failed)."""

    def log_result(self, record, path):
        """The result record ``record`` (a dict), written to ``path``; the trained-on protocol's first, then
        one per ``--test-on`` protocol."""

    def close(self, failed=False):
        """The run has ended, ``failed`` when it raised."""

    def describe(self):
        """Where the run is tracked, for the run's log; None when the run folder says it already."""


class TensorBoardTracker(Tracker):
    """TensorBoard event files in ``<run folder>/tensorboard`` (``tensorboard --logdir runs``)."""

    def __init__(self):
        self.writer = None

    def begin_training(self, run_dir):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=f"{run_dir}/tensorboard")

    def log_iteration(self, iteration, total, losses):
        for name, value in losses.items():
            self.writer.add_scalar(f"loss/{name}", value, iteration)
        self.writer.add_scalar("loss/total", total, iteration)

    def log_epoch(self, epoch, *, lr, images_per_s, iterations, losses):
        self.writer.add_scalar("train/lr", lr, epoch)
        self.writer.add_scalar("train/images_per_s", images_per_s, epoch)
        self.writer.add_scalar("train/iterations", iterations, epoch)  # epoch ends, for curves

    def log_evaluation(self, epochs_done, metrics):
        for name, value in metrics.items():
            if value is not None:
                self.writer.add_scalar(f"eval/{name}", value, epochs_done)

    def end_training(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def metric_key(text):
    """``text`` as an MLflow metric or parameter key: characters MLflow refuses (anything but letters,
    digits and ``_ - . : / space``; plugin names may hold ``+ , =``) become ``_``."""
    return re.sub(r"[^A-Za-z0-9_\-.:/ ]", "_", text)


def flatten(value, prefix=""):
    """``{dotted.key: leaf}`` of a JSON-like ``value``: dict keys and list indices joined by dots
    (``recipe.stages.0.optimizer.lr``); an empty dict or list is a leaf."""
    if isinstance(value, dict) and value:
        items = value.items()
    elif isinstance(value, (list, tuple)) and value:
        items = enumerate(value)
    else:
        return {prefix: value}
    flat = {}
    for key, item in items:
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def import_mlflow():
    """:mod:`mlflow`, or a :class:`UserError` saying how to install it (the ``mlflow`` extra)."""
    try:
        import mlflow
    except ImportError:
        raise UserError(f"--tracker mlflow needs MLflow, which is not installed: {MLFLOW_INSTALL}") from None
    return mlflow


def check_installed(name):
    """Before anything is made: the library of tracker ``name`` (:data:`TRACKERS`) is installed (TensorBoard
    is a dependency; MLflow is the ``mlflow`` extra)."""
    if name == "mlflow":
        import_mlflow()


def tracking_uri(output):
    """``MLFLOW_TRACKING_URI`` when set, else the local store ``<output>/mlruns`` as a ``file:`` URI."""
    from pathlib import Path

    return os.environ.get("MLFLOW_TRACKING_URI") or Path(output, "mlruns").resolve().as_uri()


class MlflowTracker(Tracker):
    """One MLflow run per seed in experiment ``experiment`` (the protocol trained on) at ``uri``
    (:func:`tracking_uri`), named ``run_name``, with ``params`` (a flat mapping) and the run folder as the
    tag ``reid_bench.run_dir``.

    Metrics, each at step = epochs done: ``loss/<term>`` and ``loss/total`` (the epoch's mean; unweighted
    terms, the weighted total), ``train/lr``, ``train/images_per_s``, ``eval/<metric>`` (``--eval-every``);
    and once trained the record's metrics under their own names (``mAP``, ``R1`` ...), re-ranked ones as
    ``reranked/<metric>``, a ``--test-on`` protocol's as ``<protocol>/<metric>``; on a multi-trial protocol
    the training metrics of trial K are ``trial<K>/...``. Artifacts: each result record's JSON and the run
    folder's ``config.yaml``.

    MLflow 3 keeps its local ``file:`` store only on request (``MLFLOW_ALLOW_FILE_STORE=true``; its default
    store is a database that ``mlflow-skinny`` cannot open without SQLAlchemy): for a ``file:`` URI the
    variable is set in this process unless it is set already, and reading the store back needs it too.
    """

    def __init__(self, uri, experiment, run_name, params, run_dir):
        mlflow = import_mlflow()
        from mlflow.entities import Param
        from mlflow.exceptions import MlflowException

        if uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.run_dir, self.prefix, self.experiment, self.uri = run_dir, "", experiment, uri
        try:
            self.client = mlflow.tracking.MlflowClient(tracking_uri=uri)
            experiment_id = self._experiment_id(experiment, MlflowException)
            self.run_id = self.client.create_run(experiment_id, run_name=run_name,
                                                 tags={"reid_bench.run_dir": run_dir}).info.run_id
            items = [Param(metric_key(key), str(value)) for key, value in params.items()]
            for start in range(0, len(items), 100):  # MLflow takes at most 100 parameters per call
                self.client.log_batch(self.run_id, params=items[start:start + 100])
        except MlflowException as exc:
            raise UserError(f"--tracker mlflow: cannot start a run at {uri}: {str(exc).splitlines()[0]}") from None

    def _experiment_id(self, name, error):
        """The id of experiment ``name``, made if there is none; when making it fails with ``error`` because
        another process made it meanwhile (parallel sweep cells sharing a store), that one."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(name)
        except error:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id

    def _log(self, metrics, step):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(metric_key(key), float(value), now, step) for key, value in metrics.items()
                 if isinstance(value, (int, float)) and math.isfinite(value)]
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    def begin_training(self, run_dir):
        relative = os.path.relpath(run_dir, self.run_dir)
        self.prefix = "" if relative == os.curdir else f"{relative}/"

    def log_epoch(self, epoch, *, lr, images_per_s, iterations, losses):
        self._log({f"{self.prefix}train/lr": lr, f"{self.prefix}train/images_per_s": images_per_s,
                   **{f"{self.prefix}loss/{name}": value for name, value in losses.items()}}, epoch + 1)

    def log_evaluation(self, epochs_done, metrics):
        self._log({f"{self.prefix}eval/{name}": value for name, value in metrics.items()}, epochs_done)

    def log_result(self, record, path):
        trained_on = record.get("trained_on", record["protocol"])
        where = "" if record["protocol"] == trained_on else f"{record['protocol']}/"
        self._log({**{f"{where}{name}": value for name, value in (record["metrics"] or {}).items()},
                   **{f"{where}reranked/{name}": value for name, value in (record["metrics_reranked"] or {}).items()}},
                  (record.get("train") or {}).get("epochs", 0))
        self.client.log_artifact(self.run_id, path)
        if not where:
            config = os.path.join(self.run_dir, CONFIG_FILE)
            if os.path.isfile(config):
                self.client.log_artifact(self.run_id, config)

    def close(self, failed=False):
        self.client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")

    def describe(self):
        return f"MLflow run {self.run_id} of experiment {self.experiment!r} at {self.uri}"


def open_tracker(name, *, output, run_dir, experiment, run_name, params):
    """The :class:`Tracker` ``name`` (:data:`TRACKERS`) of one run: ``run_dir`` is its folder, ``output``
    its ``--output``; ``experiment``, ``run_name`` and ``params`` (a JSON-like mapping, flattened with
    dotted keys) are what MLflow files it under."""
    if name == "tensorboard":
        return TensorBoardTracker()
    if name == "mlflow":
        return MlflowTracker(tracking_uri(output), experiment, run_name, flatten(params), run_dir)
    return Tracker()
