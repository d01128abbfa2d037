"""A method's model built from the registries, and its size (parameters, FLOPs)."""


def build_model(plugins, method, variant, protocol, recipe, num_classes, pretrained):
    """``method``'s model (its ``variant``) from the model registry of ``plugins``, for ``protocol``'s task,
    ``num_classes`` training classes and ``recipe``'s input size, from ``pretrained`` weights (a
    :class:`~reid_bench.models.weights.Pretrained`, or false for none)."""
    builder = plugins.models.get(method.model)
    return builder(num_classes, task=protocol.task, input_size=tuple(recipe.input_size), pretrained=pretrained,
                   **method.model_kwargs_for(variant))


def model_complexity(model, input_size, device):
    """``(params, flops)`` of one eval-mode forward at ``input_size`` (torchreid's counter, convolutions
    and linear layers; FLOPs ``None`` if the model cannot be traced by it)."""
    from torchreid.reid.utils import compute_model_complexity

    params = sum(p.numel() for p in model.parameters())
    was_training = model.training
    try:
        _, flops = compute_model_complexity(model, (1, 3, *input_size), only_conv_linear=True)
        flops = int(flops)
    except Exception:  # a model torchreid's hook-based counter cannot handle still gets its params
        flops = None
    finally:
        model.train(was_training)
        model.to(device)
    return params, flops
