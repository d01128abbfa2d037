"""``reid-bench new-plugin NAME``: a pip-installable plugin package to start a paper from.

:func:`write_plugin` writes ``<output>/reid-bench-NAME/``: a ``pyproject.toml`` declaring the ``reid_bench``
entry point, the package ``reid_bench_NAME`` (the model ``NAME``, ResNet-18 + BNNeck as the built-in
``baseline`` on ResNet-50, and the method ``NAME`` with a ``softmax`` variant), a README with the citation
fields to fill in, and a test that builds the model, checks a forward and backward pass and trains two
iterations on the embedded ``synthetic`` protocol. The package installs and passes its test as written; it
imports nothing of reid-bench but its public API (``from reid_bench import ...``), as plugins must.
``docs/plugin-authors.md`` walks through it.
"""
import keyword
import os
from string import Template

from .errors import UserError
from .registry import NAME as REGISTRY_NAME

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$distribution"
version = "0.1.0"
description = "$name: a reid-bench plugin"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["$requirement"]

[project.optional-dependencies]
test = ["pytest>=7"]

# reid-bench finds the plugin through this entry point once the package is installed
[project.entry-points.reid_bench]
$name = "$package"

[tool.setuptools]
packages = ["$package"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
"""

README = """\
# $distribution

A reid-bench plugin: the method `$name`, made by
`reid-bench new-plugin $name` (ResNet-18 + BNNeck trained with label-smoothed softmax and batch-hard
triplet, the built-in `baseline` on a smaller backbone) to be turned into a paper's method.

## The paper

- Title:
- Authors:
- Venue and year:
- Paper link:
- Official code:
- BibTeX:

Copy the title, a one-line citation ("Authors, Title, Venue Year") and the link into `MethodSpec(title=...,
citation=..., url=...)` in `$package/method.py`: `reid-bench list` and the leaderboards show them, and the
paper's own numbers go into `reported=` there, each with the table they come from.

## Install, test, run

```bash
pip install -e ".[test]"           # the package and pytest
pytest
reid-bench list                    # shows $name: its method, variants and what it registers
reid-bench run --plugin $name --dataset synthetic --epochs 1 --max-iters 2
```

Result records name this distribution and its version (`plugin_distribution`). reid-bench's
`docs/plugin-authors.md` says what each part of the package is for and how to publish it.
"""

INIT = '''\
"""Plugin ``$name`` for reid-bench: registers the model ``$name`` and the method ``$name`` through the
registration hooks (reid-bench's ``docs/plugin-authors.md``)."""
from reid_bench import hookimpl

from .method import METHOD
from .model import build_$name


@hookimpl
def reid_bench_register_models(registry):
    registry.add("$name", build_$name)


@hookimpl
def reid_bench_register_methods(registry):
    registry.add("$name", METHOD)
'''

MODEL = '''\
"""ResNet-18 (last stride 1) with a BNNeck head (Luo et al., "Bag of Tricks", CVPR-W 2019).

Feature path: layer4 -> global average pooling -> ``embedding`` (512-d, read by the triplet term) ->
BatchNorm1d with frozen bias (the BNNeck) -> ``bn_embedding`` -> bias-free linear identity classifier ->
``logits`` (read by the softmax term). In ``eval()`` mode the model returns ``bn_embedding``, the retrieval
embedding, or the logits with ``task="classification"``. ``attention_maps`` holds layer4's activation map
after every forward, which ``reid-bench visualize attention`` draws.
"""
import torch
from torch import nn

from reid_bench import resnet

FEATURE_DIM = 512


class $model_class(nn.Module):
    def __init__(self, num_classes, task="reid", pretrained=False, last_stride=1):
        super().__init__()
        self.task = task
        # ImageNet's or the harness's synthetic weights when ``pretrained`` says so, else from scratch
        self.backbone = resnet(18, pretrained=pretrained, last_stride=last_stride)
        self.backbone.fc = nn.Identity()
        self.bnneck = nn.BatchNorm1d(FEATURE_DIM)
        self.bnneck.bias.requires_grad_(False)
        self.classifier = nn.Linear(FEATURE_DIM, num_classes, bias=False)
        nn.init.normal_(self.classifier.weight, std=0.001)
        self.attention_maps = {}

    def feature_maps(self, images):
        net = self.backbone
        maps = net.maxpool(net.relu(net.bn1(net.conv1(images))))
        return net.layer4(net.layer3(net.layer2(net.layer1(maps))))

    def forward(self, images):
        maps = self.feature_maps(images)
        self.attention_maps = {"activation_layer4": maps.detach().pow(2).mean(dim=1)}
        embedding = torch.flatten(nn.functional.adaptive_avg_pool2d(maps, 1), 1)
        bn_embedding = self.bnneck(embedding)
        if not self.training:
            return self.classifier(bn_embedding) if self.task == "classification" else bn_embedding
        return {"logits": self.classifier(bn_embedding), "embedding": embedding, "bn_embedding": bn_embedding}


def build_$name(num_classes, *, task="reid", input_size=(256, 128), pretrained=False, last_stride=1):
    """The model builder registered as ``$name``; ``input_size`` is not needed (global pooling)."""
    return $model_class(num_classes, task=task, pretrained=pretrained, last_stride=last_stride)
'''

METHOD = '''\
"""The method ``$name``: label-smoothed softmax + batch-hard triplet on P x K batches, the Bag of Tricks
recipe (the built-in baseline's). Change the loss terms, recipe and variants into your paper's;
``reid-bench list --components`` lists every loss, sampler, augmentation and optimizer with its arguments.
"""
from reid_bench import (Augment, LossTerm, LRSchedule, MethodSpec, OptimizerSpec, Recipe, SamplerSpec, Stage,
                        Variant)

# each term reads one of the model's named outputs in train mode
LOSS_TERMS = (
    LossTerm("softmax", "cross_entropy", 1.0, {"output": "logits", "label_smooth": 0.1}),
    LossTerm("triplet", "triplet", 1.0, {"output": "embedding", "margin": 0.3}),
)


def paper_recipe(protocol):
    """Re-id: Adam 3.5e-4, 10-epoch warm-up, x0.1 at epochs 40 and 70, 120 epochs of 16 identities x 4
    images at 256x128, flip, padded crop and random erasing. Classification: SGD, softmax only."""
    if protocol.task == "classification":
        stage = Stage(epochs=60, batch_size=128, sampler=SamplerSpec("random"),
                      optimizer=OptimizerSpec("sgd", lr=0.1, weight_decay=5e-4, momentum=0.9),
                      schedule=LRSchedule(milestones=(30, 45)), loss_terms=("softmax",))
        return Recipe("paper", (stage,), input_size=(32, 32),
                      train_transforms=(Augment("random_flip"), Augment("pad_crop", {"padding": 4})))
    stage = Stage(epochs=120, batch_size=64, sampler=SamplerSpec("identity", {"num_instances": 4}),
                  optimizer=OptimizerSpec("adam", lr=3.5e-4, weight_decay=5e-4),
                  schedule=LRSchedule(warmup_epochs=10, warmup_start=0.1, milestones=(40, 70)))
    return Recipe("paper", (stage,), input_size=(256, 128),
                  train_transforms=(Augment("random_flip"),
                                    Augment("pad_crop", {"padding": 10, "reference_width": 128}),
                                    Augment("random_erase")))


METHOD = MethodSpec(
    name="$name",
    model="$name",
    loss_terms=LOSS_TERMS,
    paper_recipe=paper_recipe,
    title="ResNet-18 + BNNeck, softmax + triplet (the new-plugin template; the paper's title here)",
    citation="",  # "Authors, Title, Venue Year" (README.md)
    url="",
    backbone="resnet18",
    variants={
        "full": Variant("softmax (label smoothing 0.1) + batch-hard triplet (margin 0.3)"),
        "softmax": Variant("label-smoothed softmax only", loss_terms=("softmax",)),
    },
    reported=(),  # the paper's numbers, e.g. Reported("market1501", {"mAP": 85.9, "R1": 94.5}, source="Table 2")
)
'''

TEST = '''\
"""The plugin's own tests: the model's contract, and two training iterations through reid-bench on its
embedded ``synthetic`` protocol (generated on first use; no data, no download)."""
import glob
import importlib.metadata
import json
import os
import subprocess
import sys

import torch

from reid_bench import BatchHardTripletTerm, CrossEntropyTerm
from $package.method import METHOD
from $package.model import FEATURE_DIM, build_$name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_model_returns_named_outputs_in_training_and_the_embedding_in_eval():
    torch.manual_seed(0)
    model = build_$name(4, task="reid", input_size=(64, 32), pretrained=False).train()
    images, targets = torch.randn(8, 3, 64, 32), torch.arange(4).repeat_interleave(2)
    outputs = model(images)
    assert outputs["logits"].shape == (8, 4) and outputs["embedding"].shape == (8, FEATURE_DIM)
    loss = CrossEntropyTerm(label_smooth=0.1)(outputs, targets) + BatchHardTripletTerm()(outputs, targets)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    with torch.no_grad():
        assert model.eval()(images).shape == (8, FEATURE_DIM)


def test_two_iterations_on_synthetic(tmp_path):
    """From scratch at 32x16: seconds, and no pretraining first."""
    command = [sys.executable, "-m", "reid_bench", "run", "--plugin", "$name", "--dataset", "synthetic",
               "--epochs", "1", "--max-iters", "2", "--batch-size", "16", "--input-size", "32", "16",
               "--no-pretrained", "--workers", "0", "--no-progress", "--no-rerank", "--output", str(tmp_path)]
    installed = "$name" in {entry.name for entry in importlib.metadata.entry_points(group="reid_bench")}
    if not installed:  # before `pip install -e .`: imported from this folder
        command += ["--plugin-module", "$package"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    [path] = glob.glob(os.path.join(tmp_path, "results", "*.json"))
    with open(path) as handle:
        record = json.load(handle)
    assert record["method"] == METHOD.name and record["backbone"] == METHOD.backbone
    assert record["train"]["iterations"] == 2
    if installed:
        assert record["plugin_distribution"]["name"] == "$distribution"
'''

#: file (relative to the package folder) -> its template
FILES = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "{package}/__init__.py": INIT,
    "{package}/model.py": MODEL,
    "{package}/method.py": METHOD,
    "tests/test_{name}.py": TEST,
}


def check_plugin_name(name, taken=()):
    """:class:`UserError` unless ``name`` can name the plugin, its model and method and its Python package
    (``reid_bench_NAME``): a Python identifier starting with a letter, no keyword, not ``taken``."""
    if not name.isidentifier() or keyword.iskeyword(name) or not REGISTRY_NAME.match(name):
        raise UserError(f"new-plugin {name!r}: expected a Python identifier starting with a letter (letters, digits, "
                        "_), e.g. my_method; it names the plugin, its model, its method and the package "
                        f"reid_bench_<NAME>")
    if name in taken:
        raise UserError(f"new-plugin {name!r}: a loaded plugin, method or model already has that name "
                        "(`reid-bench list`); choose another")


def write_plugin(name, output=".", version=None, taken=()):
    """Write the package of plugin ``name`` to ``<output>/reid-bench-<name>/`` and return that folder.
    ``version`` (reid-bench's) is the least one the package requires; ``taken``: names it may not have.
    An existing folder is refused, so nothing is ever overwritten."""
    check_plugin_name(name, taken)
    distribution, package = f"reid-bench-{name}", f"reid_bench_{name}"
    folder = os.path.join(output, distribution)
    if os.path.lexists(folder):
        raise UserError(f"new-plugin: {folder} already exists; choose another --output or name (nothing is "
                        "overwritten)")
    values = {"name": name, "package": package, "distribution": distribution,
              "requirement": f"reid-bench>={version}" if version else "reid-bench",
              "model_class": "".join(part.capitalize() for part in name.split("_")) + "Net"}
    os.makedirs(folder)
    for relative, template in FILES.items():
        path = os.path.join(folder, relative.format(name=name, package=package))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(Template(template).substitute(values))
    return folder
