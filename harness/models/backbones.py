"""Backbones from torchvision (ResNet-18/34/50/101, GoogLeNet), loaded with pretrained weights or started from
scratch with identity residual blocks. Where the weights come from is :mod:`.weights`."""
import os
import pickle

import torch
import torchvision

from ..errors import UserError

#: architecture -> torchvision weight enums whose files are accepted, preferred first
WEIGHT_ENUMS = {
    "resnet18": ("ResNet18_Weights", ("IMAGENET1K_V1",)),
    "resnet34": ("ResNet34_Weights", ("IMAGENET1K_V1",)),
    "resnet50": ("ResNet50_Weights", ("IMAGENET1K_V1", "IMAGENET1K_V2")),
    "resnet101": ("ResNet101_Weights", ("IMAGENET1K_V1", "IMAGENET1K_V2")),
    "googlenet": ("GoogLeNet_Weights", ("IMAGENET1K_V1",)),
}


def zero_init_residuals(module):
    """Start every residual block of ``module`` as the identity: the last BatchNorm of each block's
    residual branch gets weight 0 (Goyal et al. 2017, "Accurate, Large Minibatch SGD", Sec. 5.1;
    torchvision's ``zero_init_residual``). A deep ResNet trained from scratch then behaves like a
    shallow one at first and learns in far fewer iterations; pretrained weights overwrite it."""
    for block in module.modules():
        last_norm = getattr(block, "bn3", None) if hasattr(block, "conv3") else getattr(block, "bn2", None)
        if hasattr(block, "conv1") and hasattr(block, "downsample") and isinstance(last_norm, torch.nn.BatchNorm2d):
            torch.nn.init.zeros_(last_norm.weight)
    return module


def resnet_geometry(module):
    """``{"last_stride": 1}`` for a torchvision or torchreid ResNet whose layer4 has stride 1 without
    dilation, else ``{}`` (torchvision's geometry). The geometry pretrained weights are made for: a layer
    dilated instead of strided (``replace_stride_with_dilation``) computes the strided network's function
    on a denser grid (Yu & Koltun, ICLR 2016; DeepLab, Chen et al., TPAMI 2017), so it takes the
    stride-2 weights as ImageNet's are taken; a plain stride of 1 halves what layer4's kernels see and
    gets weights of its own."""
    layer4 = getattr(module, "layer4", None)
    if layer4 is None or not hasattr(layer4[0], "conv2"):
        return {}
    dilated = layer4[-1].conv2.dilation[0] > 1  # the first block of a dilated layer keeps its input's dilation
    return {"last_stride": 1} if _strided_conv(layer4[0]).stride[0] == 1 and not dilated else {}


def _strided_conv(block):
    """The convolution that strides a ResNet block: a bottleneck's 3x3 (``conv2``, torchvision's ResNet
    v1.5 and torchreid's), a basic block's first (``conv1``, ResNet-18/34)."""
    return block.conv2 if hasattr(block, "conv3") else block.conv1


def _read_weights(pretrained, arch, geometry):
    """``(path, state)`` of ``arch``'s weight file from ``pretrained``. A file that cannot be read (truncated by a
    full disk, not a weights file) is an error line when it is the user's; the harness's own cached synthetic
    weights are removed and made again."""
    path = pretrained.weights_for(arch, geometry)
    try:
        return path, torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        problem = " ".join(str(exc).split())[:200]
        if pretrained.source != "synthetic":
            raise UserError(f"cannot read {path} as a weights file ({problem}); expected torchvision's {arch} "
                            "weights") from None
    print(f"the cached {path} cannot be read ({problem}); making it again")
    os.remove(path)
    path = pretrained.weights_for(arch, geometry)
    return path, torch.load(path, map_location="cpu", weights_only=True)


def load_imagenet_weights(module, arch, pretrained, strict=True):
    """Load ``arch``'s pretrained weights (ImageNet's or the synthetic ones, as ``pretrained``, a
    :class:`~reid_bench.models.weights.Pretrained`, says) into ``module``; without ``pretrained`` the module trains
    from scratch and its residual blocks start as the identity (:func:`zero_init_residuals`).

    With ``strict=False`` keys the module does not have (a classifier, auxiliary heads) are skipped,
    but every parameter the module and the file share must match in shape. Synthetic weights are made
    for the module's geometry (:func:`resnet_geometry`), so set layer4's stride before loading.
    """
    if not pretrained:
        return zero_init_residuals(module)
    path, state = _read_weights(pretrained, arch, resnet_geometry(module))
    own = module.state_dict()
    if not isinstance(state, dict) or not any(key in own for key in state):
        # e.g. a run's model.pt (its keys start with the plugin's module names): nothing would be loaded
        raise UserError(f"{path} matches none of {arch}'s parameters; expected torchvision's {arch} weights "
                        f"({', '.join(WEIGHT_ENUMS[arch][1])}) or the synthetic ones")
    if not strict:
        state = {k: v for k, v in state.items() if k in own}
    # The synthetic weights carry no classifier (``fc``): a strict load accepts that difference only.
    optional = ("fc.",) if pretrained.source == "synthetic" else ()
    missing, unexpected = module.load_state_dict(state, strict=False)
    missing = [key for key in missing if not key.startswith(optional)]
    if strict and (missing or unexpected):
        raise UserError(f"{path} does not fit {arch}: missing keys {missing[:5]}{' ...' if len(missing) > 5 else ''}, "
                        f"unexpected keys {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}; expected "
                        f"torchvision's {arch} weights")
    pretrained.tensors.append(sum(key in own for key in state))
    return module


def resnet(depth=50, pretrained=False, last_stride=2, **kwargs):
    """A torchvision ResNet-18/34/50/101 with layer4's stride ``last_stride`` (``kwargs`` go to torchvision,
    e.g. ``replace_stride_with_dilation``), with pretrained weights when ``pretrained`` is given."""
    arch = f"resnet{depth}"
    if arch not in WEIGHT_ENUMS:
        raise ValueError(f"unsupported ResNet depth {depth}; expected 18, 34, 50 or 101")
    model = getattr(torchvision.models, arch)(weights=None, **kwargs)
    if last_stride != 2:  # a dilated layer4 has stride 1 already
        set_last_stride(model, last_stride)
    return load_imagenet_weights(model, arch, pretrained)


def set_last_stride(net, stride):
    """Set the stride of a torchvision ResNet's layer4 (BoT/MSReID use last stride 1)."""
    block = net.layer4[0]
    _strided_conv(block).stride = (stride, stride)
    block.downsample[0].stride = (stride, stride)
    return net


def googlenet(pretrained=False):
    """torchvision's GoogLeNet (Inception-V1 with BatchNorm), without auxiliary heads."""
    # ImageNet GoogLeNet weights expect torchvision's input re-normalisation (transform_input); the
    # synthetic ones were trained on the harness's normalisation.
    imagenet = bool(pretrained) and pretrained.source == "imagenet"
    model = torchvision.models.googlenet(
        weights=None, aux_logits=False, transform_input=imagenet, init_weights=not pretrained
    )
    return load_imagenet_weights(model, "googlenet", pretrained, strict=False)
