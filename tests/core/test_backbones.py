"""Backbones built from scratch start with identity residual blocks (zero-init residual)."""
import os

import torch
from torchreid.reid.models.resnet import Bottleneck, ResNet

from reid_bench import load_imagenet_weights, resnet
from reid_bench.models.backbones import zero_init_residuals


def last_norms(net):
    return [block.bn3 for block in net.modules() if hasattr(block, "bn3")]


def test_torchvision_and_torchreid_resnets_from_scratch_start_as_identity_blocks():
    torchvision_net = resnet(50, pretrained=False)
    torchreid_net = load_imagenet_weights(
        ResNet(10, loss="softmax", block=Bottleneck, layers=[3, 4, 6, 3], last_stride=1), "resnet50", False)
    for net in (torchvision_net, torchreid_net):
        norms = last_norms(net)
        assert len(norms) == 16  # 3 + 4 + 6 + 3 bottlenecks
        assert all(torch.count_nonzero(norm.weight) == 0 for norm in norms)
        # every other BatchNorm keeps its default weight 1
        others = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d) and all(m is not n for n in norms)]
        assert others and all(torch.all(m.weight == 1) for m in others)


def test_a_zero_initialised_bottleneck_is_relu_of_its_shortcut():
    torch.manual_seed(0)
    block = zero_init_residuals(resnet(50, pretrained=False)).layer1[0].eval()
    x = torch.randn(2, 64, 8, 4)
    assert torch.allclose(block(x), torch.relu(block.downsample(x)))


def test_a_weights_file_that_matches_nothing_is_refused_not_silently_skipped(tmp_path):
    """Reliability issue, defect 5: a run's model.pt given as --weights-dir loaded no tensor (mAP 2.0) while
    the record said ImageNet weights; now it is an error naming the file, for strict and lenient loads."""
    import pytest

    from reid_bench.errors import UserError
    from reid_bench.models.weights import Pretrained

    net = resnet(18, pretrained=False)
    run_weights = tmp_path / "model.pt"
    torch.save({f"backbone.{key}": value for key, value in net.state_dict().items()}, run_weights)
    for strict in (True, False):
        with pytest.raises(UserError, match="matches none of resnet18's parameters"):
            load_imagenet_weights(resnet(18, pretrained=False), "resnet18", Pretrained(str(run_weights)), strict)
    fitting = tmp_path / "resnet18.pth"
    torch.save(net.state_dict(), fitting)
    loaded = load_imagenet_weights(resnet(18, pretrained=False), "resnet18", Pretrained(str(fitting)))
    assert torch.equal(loaded.conv1.weight, net.conv1.weight)
    # defect 7: a truncated weights file of the user's is an error line naming it, not a traceback
    with open(fitting, "r+b") as handle:
        handle.truncate(os.path.getsize(fitting) // 2)
    with pytest.raises(UserError, match="cannot read .*resnet18.pth as a weights file"):
        load_imagenet_weights(resnet(18, pretrained=False), "resnet18", Pretrained(str(fitting)))
