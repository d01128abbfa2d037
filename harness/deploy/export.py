"""``reid-bench export``: a run's model, with its test-time features, as an ONNX file checked by onnxruntime.

The exported graph is :class:`reid_bench.deploy.inference.ReidModel`'s forward: it takes a batch of
test-transformed images, float32 ``(B, 3, H, W)`` (resized to the run's input size, scaled to [0, 1] and
normalised with the recipe's mean and std, which the file's metadata records) and returns the ``(B, D)``
features the benchmark evaluates, the method's test-time options included (sharp_attention's 10-crop is
part of the graph). ``--dynamic-batch`` leaves ``B`` free; otherwise it is ``--batch-size``.

It uses torch's ``torch.export``-based ONNX exporter (``dynamo=True``; it needs ``onnxscript``), which
handles every built-in plugin's eval path, including the shape-dependent pooling that the older
TorchScript exporter refuses. After export the file is run with onnxruntime on random inputs and on
real images, and the largest absolute difference of its features from PyTorch's is printed; above
``--tolerance`` (default 1e-4) the file is not written. A model that cannot be exported gets one error
naming the operator the exporter stopped at.
"""
import os
import re
import sys
import tempfile

import numpy as np
import torch

from ..choices import EXPORT_CHECK_IMAGES, EXPORT_TOLERANCE
from ..errors import UserError
from .inference import ImageList, image_paths, load_model



def _require_onnx():
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise UserError(f"ONNX export needs onnx, onnxscript and onnxruntime ({exc.name} is missing); install them "
                        "with `pip install 'reid-bench[export]'`") from None


_UNSUPPORTED = re.compile(r"No ONNX function found for <OpOverload\(op='([\w.]+)', overload='(\w*)'\)>")
_OPERATOR = re.compile(r"\b(?:aten|prims)(?:::|\.)[A-Za-z_][\w.]*")


def _export_error(model, exc):
    """One line naming the operator the exporter stopped at, when its message names one."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", " ".join(str(exc).split()))
    summary = text.split("## Exception summary", 1)[-1].strip()  # the exporter's advice comes before it
    unsupported = [f"{op}.{overload}" if overload else op for op, overload in _UNSUPPORTED.findall(text)]
    operators = list(dict.fromkeys(unsupported or _OPERATOR.findall(summary)))
    what = f"{model.method.name} [{model.variant}]"
    detail = summary[:300] + ("..." if len(summary) > 300 else "")
    if operators:
        return (f"{what} cannot be exported to ONNX: operator {', '.join(operators[:3])} has no ONNX conversion in "
                f"torch.onnx ({type(exc).__name__}: {detail})")
    return f"{what} cannot be exported to ONNX ({type(exc).__name__}: {detail})"


def export_onnx(model, out, *, dynamic_batch=False, batch_size=1, opset=None):
    """Write ``model`` (a :class:`~reid_bench.deploy.inference.ReidModel`, moved to the CPU) to ``out`` as ONNX with
    input ``images`` and output ``features``; metadata records the method, input size and normalisation."""
    _require_onnx()
    import warnings

    model.cpu().eval()
    height, width = model.input_size
    example = torch.zeros(2 if dynamic_batch else batch_size, 3, height, width)
    dynamic_shapes = ({0: torch.export.Dim("batch")},) if dynamic_batch else None
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model, (example,), dynamo=True, input_names=["images"],
                                        output_names=["features"], dynamic_shapes=dynamic_shapes,
                                        opset_version=opset, verbose=False)
    except Exception as exc:  # the exporter raises many kinds (torch.export, decomposition, onnxscript)
        raise UserError(_export_error(model, exc)) from None
    metadata = {"reid_bench.method": model.method.name, "reid_bench.variant": model.variant,
                "reid_bench.test_features": model.recipe.test_features,
                "reid_bench.input": f"float32 (batch, 3, {height}, {width}), RGB in [0, 1] normalised",
                "reid_bench.norm_mean": ",".join(f"{v:g}" for v in model.recipe.norm_mean),
                "reid_bench.norm_std": ",".join(f"{v:g}" for v in model.recipe.norm_std)}
    program.model.metadata_props.update(metadata)
    program.save(out)
    return out


def _real_images(spec, plugins):
    if spec:
        return image_paths(spec)
    return [item[0] for item in plugins.datasets.get("synthetic").load(None).query[:EXPORT_CHECK_IMAGES]]


def check_onnx(path, model, batches):
    """Largest absolute difference between onnxruntime's features of ``path`` and ``model``'s, over the
    ``batches`` (tensors) given."""
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    worst = 0.0
    with torch.no_grad():
        for images in batches:
            expected = model(images).numpy()
            got = session.run(["features"], {"images": images.numpy()})[0]
            worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def _check_batches(model, real, dynamic_batch, batch_size):
    """Random inputs and the real images, in batches the exported graph accepts."""
    height, width = model.input_size
    generator = torch.Generator().manual_seed(0)
    sizes = (1, 3) if dynamic_batch else (batch_size,)
    batches = [torch.randn(size, 3, height, width, generator=generator) for size in sizes]
    if dynamic_batch:
        return batches + [real]
    rows = torch.arange(-(-len(real) // batch_size) * batch_size) % len(real)  # repeat to whole batches
    return batches + list(real[rows].split(batch_size))


def export_checked(checkpoint, path, plugins, *, images=None, dynamic_batch=False, batch_size=1, opset=None,
                   tolerance=EXPORT_TOLERANCE, out=None):
    """Export the model of ``checkpoint`` to ``path``, check it with onnxruntime against PyTorch on random
    inputs and real ``images`` (default: the first query images of ``synthetic``), and print where the file
    is and the parity figure; above ``tolerance`` nothing is written."""
    out = out or sys.stdout
    _require_onnx()
    if not tolerance >= 0:
        raise UserError(f"--tolerance must be a number >= 0, got {tolerance}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"--output {path}: folder {folder} does not exist")
    model = load_model(checkpoint, device="cpu", plugins=plugins)
    real_paths = _real_images(images, plugins)
    real_images = ImageList(real_paths, model.transform)
    real = torch.stack([real_images[index] for index in range(len(real_images))])
    handle, temporary = tempfile.mkstemp(suffix=".onnx", dir=folder)
    os.close(handle)
    try:
        export_onnx(model, temporary, dynamic_batch=dynamic_batch, batch_size=batch_size, opset=opset)
        worst = check_onnx(temporary, model, _check_batches(model, real, dynamic_batch, batch_size))
        batch = "dynamic" if dynamic_batch else str(batch_size)
        print(f"onnxruntime vs PyTorch: max abs difference {worst:.3g} on random inputs and {len(real_paths)} real "
              f"images (tolerance {tolerance:g})", file=out)
        if not worst <= tolerance:
            raise UserError(f"the ONNX export of {model.method.name} [{model.variant}] differs from PyTorch by "
                            f"{worst:.3g} > --tolerance {tolerance:g}; {path} was not written")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    height, width = model.input_size
    print(f"{path}: {model.method.name} [{model.variant}], input images (batch {batch}, 3, {height}, {width}) "
          f"normalised with mean {list(model.recipe.norm_mean)} std {list(model.recipe.norm_std)}, output "
          f"features ({model.recipe.test_features} test features)", file=out)
    return path
