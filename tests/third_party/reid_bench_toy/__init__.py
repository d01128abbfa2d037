"""A third-party reid-bench plugin, kept as its own tiny package: it registers a model, a loss, a
sampler and a method through the hooks and imports nothing of reid-bench but its public API."""
import torch
from torch import nn

from reid_bench import (LossTerm, MethodSpec, OptimizerSpec, Recipe, SamplerSpec, Stage, Variant, hookimpl,
                        same_identity_mask)


class ToyNet(nn.Module):
    """Two convolutions, global pooling, an embedding and a classifier."""

    def __init__(self, num_classes, task="reid"):
        super().__init__()
        self.task = task
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(16, num_classes)

    def forward(self, images):
        embedding = self.features(images)
        if not self.training:
            return self.classifier(embedding) if self.task == "classification" else embedding
        return {"embedding": embedding, "logits": self.classifier(embedding)}


class PullTogether(nn.Module):
    """Mean squared distance between embeddings of the same identity."""

    def forward(self, outputs, targets):
        embedding = outputs["embedding"]
        same = same_identity_mask(targets).float()
        return (torch.cdist(embedding, embedding).pow(2) * same).sum() / same.sum()


class InOrderPairs(torch.utils.data.Sampler):
    """Images two by two of the same identity, identities in order."""

    def __init__(self, data_source, batch_size):
        by_pid = {}
        for index, item in enumerate(data_source):
            by_pid.setdefault(item[1], []).append(index)
        self.indices = [i for indices in by_pid.values() for i in indices[: len(indices) // 2 * 2]]

    def __iter__(self):
        return iter(self.indices)

    def __len__(self):
        return len(self.indices)


def recipe(protocol):
    stage = Stage(epochs=2, batch_size=8, sampler=SamplerSpec("toy_pairs"), optimizer=OptimizerSpec("sgd", lr=0.01))
    return Recipe("paper", (stage,), input_size=(32, 16))


@hookimpl
def reid_bench_register_models(registry):
    registry.add("toy_net", lambda num_classes, task="reid", input_size=None, pretrained=False: ToyNet(num_classes, task))


@hookimpl
def reid_bench_register_losses(registry):
    registry.add("toy_pull", PullTogether)


@hookimpl
def reid_bench_register_samplers(registry):
    registry.add("toy_pairs", InOrderPairs)


@hookimpl
def reid_bench_register_methods(registry):
    registry.add("toy", MethodSpec(
        name="toy", model="toy_net", paper_recipe=recipe, title="Toy third-party method",
        loss_terms=(LossTerm("softmax", "cross_entropy"), LossTerm("pull", "toy_pull", 0.1)),
        variants={"full": Variant("softmax + pull"), "softmax": Variant("softmax only", loss_terms=("softmax",))},
    ))
