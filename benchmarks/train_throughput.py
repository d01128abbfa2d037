"""Training throughput and model size of a method beside the baseline, measured in one run.

For each method: build the model for 751 identities (Market-1501) at the input size, its loss terms as
the engine builds them, the optimizer of its paper recipe's last stage, then time full training steps
(forward, weighted loss terms, backward, optimizer step) on random images laid out as P x K identity
batches. Parameters and FLOPs of one eval-mode forward come from torchreid's counter.

    python benchmarks/train_throughput.py --method sharp_attention
    python benchmarks/train_throughput.py --method ccan --batch-size 16 --iters 5 --device cuda

The last line printed is one JSON object with every figure.
"""
import argparse
import json
import time

import torch

from reid_bench.engine.optim import build_optimizer
from reid_bench.engine.trainer import build_loss_module
from reid_bench.plugin_manager import load_plugins
from reid_bench.runs import model_complexity


def measure(plugins, method_name, variant, batch_size, input_size, iters, warmup, device, num_classes=751):
    method = plugins.method_for_plugin(method_name)
    variant = variant or method.default_variant
    protocol = plugins.datasets.get("market1501")
    recipe = method.paper_recipe(protocol)
    stage = recipe.stages[-1]
    model = plugins.models.get(method.model)(num_classes, task="reid", input_size=tuple(input_size), pretrained=False,
                                             **method.model_kwargs_for(variant)).to(device)
    params, flops = model_complexity(model, input_size, device)
    terms = method.loss_terms_for(variant, recipe, stage)
    losses = {t.name: build_loss_module(plugins.losses.get(t.loss), dict(t.kwargs), num_classes).to(device)
              for t in terms}
    optimizer = build_optimizer(stage.optimizer, list(model.parameters()))
    images = torch.randn(batch_size, 3, *input_size, device=device)
    targets = torch.arange(batch_size // 4, device=device).repeat_interleave(4)
    model.train()
    if method.on_epoch_start is not None:
        method.on_epoch_start(model, 0, recipe)

    def step():
        outputs = model(images)
        total = sum(t.weight * losses[t.name](outputs, targets) for t in terms)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return {"method": method.name, "variant": variant, "images_per_s": batch_size * iters / elapsed,
            "params": params, "flops": flops, "batch_size": batch_size, "input_size": list(input_size)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", required=True)
    parser.add_argument("--variant")
    parser.add_argument("--baseline", default="baseline", help="method to compare with (default baseline)")
    parser.add_argument("--batch-size", type=int, default=16, help="a multiple of 4 (P x 4)")
    parser.add_argument("--input-size", type=int, nargs=2, default=[256, 128])
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    plugins = load_plugins()
    device = torch.device(args.device)
    rows = [measure(plugins, name, args.variant if name == args.method else None, args.batch_size, args.input_size,
                    args.iters, args.warmup, device) for name in (args.method, args.baseline)]
    for row in rows:
        flops = f"{row['flops'] / 1e9:.2f} GFLOPs" if row["flops"] else "FLOPs n/a"
        print(f"{row['method']:>18} [{row['variant']}]: {row['images_per_s']:.2f} train images/s, "
              f"{row['params'] / 1e6:.2f} M params, {flops}")
    ratio = rows[0]["images_per_s"] / rows[1]["images_per_s"]
    print(f"throughput ratio {rows[0]['method']} / {rows[1]['method']}: {ratio:.3f}")
    print(json.dumps({"device": str(device), "threads": torch.get_num_threads(), "rows": rows,
                      "throughput_ratio": ratio}))


if __name__ == "__main__":
    main()
