"""The harness's generic loss terms against torchreid's modules on the same inputs: values and gradients."""
import pytest
import torch
from torchreid.reid.losses import CrossEntropyLoss, TripletLoss

from reid_bench import BatchHardTripletTerm, CrossEntropyTerm


def _value_and_grad(loss_fn, inputs, targets):
    inputs = inputs.clone().requires_grad_()
    value = loss_fn(inputs, targets)
    value.backward()
    return value.detach(), inputs.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("batch, dim, per_identity", [(256, 2048, 4), (18, 16, 3), (8, 4, 2)])
def test_batch_hard_triplet_equals_torchreid(dtype, batch, dim, per_identity):
    torch.manual_seed(batch)
    embeddings = torch.randn(batch, dim, dtype=dtype)
    targets = torch.arange(batch // per_identity).repeat_interleave(per_identity)[torch.randperm(batch)]
    term = BatchHardTripletTerm(output="embedding", margin=0.3)
    expected, expected_grad = _value_and_grad(TripletLoss(margin=0.3), embeddings, targets)
    value, grad = _value_and_grad(lambda x, t: term({"embedding": x}, t), embeddings, targets)
    assert value.dtype == torch.float32  # the term computes in float32, like the engine's other terms
    torch.testing.assert_close(value.double(), expected.double(), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grad.double(), expected_grad.double(), rtol=1e-6, atol=1e-6)
    assert expected.item() > 0 and grad.abs().sum() > 0  # some triplets are active: the test compares something


def test_batch_hard_triplet_parameter_gradients_equal_torchreid_with_duplicate_images():
    """A P x K sampler repeats an image when an identity has fewer than K: tied hardest distances. The
    batched loss sends a tie's gradient to one copy, torchreid splits it; the network sums the copies'
    gradients, so the parameters get the same gradient."""
    torch.manual_seed(0)
    images = torch.randn(6, 10, dtype=torch.float64)
    images = torch.cat([images, images[:2]])  # images 6, 7 are copies of 0, 1
    targets = torch.tensor([0, 0, 1, 1, 2, 2, 0, 0])
    layer = torch.nn.Linear(10, 5).double()
    term = BatchHardTripletTerm(output="embedding", margin=5.0)
    grads = []
    for loss_fn in (TripletLoss(margin=5.0), lambda x, t: term({"embedding": x}, t).double()):
        layer.zero_grad()
        loss_fn(layer(images), targets).backward()
        grads.append([p.grad.clone() for p in layer.parameters()])
    for ours, theirs in zip(*grads):
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


def test_batch_hard_triplet_without_a_negative_is_zero():
    embeddings = torch.randn(4, 3, requires_grad=True)
    loss = BatchHardTripletTerm(margin=0.3)({"embedding": embeddings}, torch.zeros(4, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0 and not embeddings.grad.any()


@pytest.mark.parametrize("label_smooth", [0.0, 0.1])
def test_cross_entropy_equals_torchreid(label_smooth):
    torch.manual_seed(1)
    logits, targets = torch.randn(16, 751) * 3, torch.randint(0, 751, (16,))
    reference = CrossEntropyLoss(751, eps=label_smooth, use_gpu=False, label_smooth=label_smooth > 0)
    term = CrossEntropyTerm(output="logits", label_smooth=label_smooth)
    expected, expected_grad = _value_and_grad(reference, logits, targets)
    value, grad = _value_and_grad(lambda x, t: term({"logits": x}, t), logits, targets)
    torch.testing.assert_close(value, expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-6, atol=1e-6)
