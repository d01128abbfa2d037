"""Pictures of a trained run: ``reid-bench visualize ranks|attention|curves``.

- ``ranks`` (:mod:`.ranks`): each chosen query and its top-k gallery images, framed green (same
  identity) or red, with rank and distance; ``--worst N`` picks the queries with the lowest AP.
- ``attention`` (:mod:`.attention`): the model's ``attention_maps`` overlaid on input images, one titled
  panel per map name, with a colour bar of the attention scale.
- ``curves`` (:mod:`.curves`): loss terms, learning rate and the metrics evaluated during training
  (``reid-bench run --eval-every N``) against epochs, from run folders' TensorBoard logs; several runs (or
  every seed of a configuration) overlaid, one figure per quantity.

The leaderboard's figures are drawn by :mod:`reid_bench.leaderboard.figures`. Pictures are written under
``--output`` (default: ``visualize/<picture>`` in the run folder) and their paths printed (:mod:`reid_bench.cli.visualize`).
"""
import os
from dataclasses import dataclass

from ..data.transforms import build_test_transform
from ..deploy.inference import load_model
from ..errors import UserError
from ..spec import ReidSplits


def _display_size(input_size, height):
    """``(height, width)`` to show images at: ``height`` rows, the run's input aspect ratio."""
    return height, max(8, round(height * input_size[1] / input_size[0]))


@dataclass
class PictureSource:
    """A trained run's model with a protocol's test split, and the folder its pictures go to."""

    trained: object  # :class:`reid_bench.deploy.inference.ReidModel`
    splits: ReidSplits
    out: str

    @classmethod
    def load(cls, checkpoint, dataset, plugins, *, root=None, allow_partial=False, device="auto", picture="ranks",
             out=None):
        """The model of ``checkpoint`` and ``dataset``'s split; ``out`` defaults to
        ``visualize/<picture>`` in the run folder."""
        trained = load_model(checkpoint, device=device, plugins=plugins)
        protocol = plugins.datasets.get(dataset)
        splits = protocol.load(root, allow_partial=allow_partial, trial=0)
        if not isinstance(splits, ReidSplits):
            raise UserError(f"visualize {picture} draws re-id test images; {dataset} is a {protocol.task} protocol")
        run_dir = os.path.dirname(os.path.abspath(trained.checkpoint))
        return cls(trained, splits, out or os.path.join(run_dir, "visualize", picture))


def draw_ranks(images, *, height=128, workers=0, progress=True, topk=10, count=8, pids=None, worst=None):
    """The ranked-results pictures (:mod:`.ranks`) of :class:`PictureSource` ``images``; returns their paths."""
    from .ranks import extract, write_ranked_results

    trained, splits, recipe = images.trained, images.splits, images.trained.recipe
    features = extract(trained.network, splits, build_test_transform(recipe, recipe.input_size), trained.extractor,
                       trained.device, workers=workers, progress=progress)
    return write_ranked_results(features, splits, images.out, size=_display_size(recipe.input_size, height),
                                topk=topk, count=count, pids=pids, worst=worst)


def draw_attention(images, *, height=256, paths=None, count=4):
    """The attention-map pictures (:mod:`.attention`) of the image files ``paths`` (default: ``count`` query
    images spread over the split) under the model of :class:`PictureSource` ``images``, each panel ``height``
    rows high; returns their paths."""
    import numpy as np

    from .attention import write_attention

    trained, splits, recipe = images.trained, images.splits, images.trained.recipe
    if not paths:
        chosen = np.linspace(0, len(splits.query) - 1, min(count, len(splits.query)))
        paths = [splits.query[int(i)][0] for i in sorted(set(np.round(chosen).astype(int)))]
    return write_attention(trained.network, paths, build_test_transform(recipe, recipe.input_size), trained.device,
                           images.out, _display_size(recipe.input_size, height))


def draw_curves(runs, out=None):
    """The training curves of the run folders ``runs`` names (:mod:`.curves`); returns the paths written."""
    from .curves import write_curves

    return write_curves(runs, out)
