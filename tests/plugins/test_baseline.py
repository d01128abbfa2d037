"""The baseline plugin: ResNet-50 + BNNeck, softmax + triplet."""
import torch

from reid_bench.plugin_manager import load_plugins
from reid_bench.plugins.baseline.model import build_baseline


def test_shapes_and_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = build_baseline(5)
    images, targets = torch.randn(8, 3, 64, 32), torch.arange(4).repeat_interleave(2)
    outputs = model(images)
    assert outputs["logits"].shape == (8, 5) and outputs["embedding"].shape == (8, 2048)
    plugins = load_plugins()
    method = plugins.methods.get("baseline")
    loss = sum(t.weight * plugins.losses.get(t.loss)(**t.kwargs)(outputs, targets) for t in method.loss_terms_for())
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing
    assert not model.bnneck.bias.requires_grad  # the BNNeck's bias is frozen
    model.eval()
    assert model(images[:2]).shape == (2, 2048)


def test_classification_eval_returns_logits():
    model = build_baseline(100, task="classification").eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 100)


def test_cli_run_writes_a_record(short_run):
    record = short_run("baseline")
    assert record["method"] == "baseline" and record["variant"] == "full" and record["protocol"] == "synthetic"
    assert record["params"] > 20e6 and record["flops"] > 0
    assert record["pretrained"] is False and record["input_size"] == [64, 32]
    assert set(record["metrics"]) == {"mAP", "mINP", "R1", "R5", "R10", "R20"}
    assert record["metrics_reranked"] is None  # re-ranking is off unless --rerank
