"""Plugin ``baseline``: torchreid's ResNet-50 with a BNNeck, trained with label-smoothed softmax and
batch-hard triplet on P x K batches. It is the reference row of every leaderboard, and the proof that a
method needs nothing but the hooks: it registers a model and a method and reuses the harness's generic
``cross_entropy`` and ``triplet`` losses and ``identity`` sampler.
"""
from reid_bench import hookimpl

from .method import METHOD
from .model import build_baseline


@hookimpl
def reid_bench_register_models(registry):
    registry.add("baseline", build_baseline)


@hookimpl
def reid_bench_register_methods(registry):
    registry.add("baseline", METHOD)
