"""How much of sharp_attention's backbone gradient the TV penalty (SAN Eq. 8) makes, at initialisation.

Eq. 8 adds ``mu * sum_i TV(A_i)`` (mu = 0.1) to the triplet loss; the paper does not say how Eq. 6 is
normalised, and the balance between the two terms depends on it and on the input size. This script
measures, on P x K batches of the embedded ``synthetic`` protocol under the uniform recipe, from the
protocol's pretrained weights, the L2 norm of each term's gradient on the backbone's parameters (conv1 to
layer4 and the sharp attention blocks), and prints the TV term's share ``|mu g_TV| / |g_triplet|`` for
Eq. 6 averaged over A's entries (the ``tv`` term) and summed as written (``tv_sum``), at the weight of the
method's stock recipe, so that the weight can be chosen to be neither inert nor dominant.

Usage::

    python benchmarks/sharp_attention_tv.py                  # 8 batches, seed 0
    python benchmarks/sharp_attention_tv.py --batches 2      # quicker
"""
import argparse
import tempfile

import torch


def _backbone_parameters(model):
    """Parameters of everything but the head (the features the attention shapes)."""
    return [p for name, p in model.named_parameters() if p.requires_grad and not name.startswith(("head", "classifier"))]


def gradient_norm(loss, parameters):
    grads = torch.autograd.grad(loss, parameters, retain_graph=True, allow_unused=True)
    return torch.sqrt(sum((g.float() ** 2).sum() for g in grads if g is not None)).item()


def measure(batches=8, seed=0, variant="sab+cu+tv"):
    from reid_bench.engine.device import seed_everything
    from reid_bench.engine.trainer import Trainer
    from reid_bench.experiment.config import RunConfig, experiment_of_run, resolve_experiment
    from reid_bench.experiment.runs import _pretrained_choice
    from reid_bench.models.building import build_model
    from reid_bench.plugin_manager import load_plugins

    plugins = load_plugins()
    method = plugins.method_for_plugin("sharp_attention")
    protocol = plugins.datasets.get("synthetic")
    config = RunConfig(plugin="sharp_attention", variant=variant, dataset="synthetic", recipe="uniform", seed=seed)
    recipe, _ = resolve_experiment(experiment_of_run(config), plugins)
    seed_everything(seed)
    splits = protocol.load(None)
    model = build_model(plugins, method, variant, protocol, recipe, splits.num_train_pids,
                        _pretrained_choice(config, protocol)).train()
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(model=model, method=method, variant=variant, recipe=recipe, plugins=plugins,
                          splits=splits, num_classes=splits.num_train_pids, device="cpu", run_dir=run_dir,
                          workers=0, seed=seed, progress=False, log=lambda *_: None)
        trainer._enter_stage(0, recipe.stages[0])
        parameters = _backbone_parameters(model)
        tv = {reduction: plugins.losses.get("sharp_attention_tv")(reduction=reduction) for reduction in ("mean", "sum")}
        weight = trainer.terms["tv"].weight
        rows = []
        for index, batch in enumerate(trainer.loader):
            if index == batches:
                break
            outputs = model(batch["img"])
            triplet = trainer.loss_modules["triplet"](outputs, batch["pid"])
            norms = {"triplet": gradient_norm(triplet, parameters)}
            for reduction, term in tv.items():
                value = term(outputs, batch["pid"])
                norms[reduction] = weight * gradient_norm(value, parameters)
                norms[f"{reduction}_value"] = value.item()
            rows.append(norms)
    return weight, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    weight, rows = measure(args.batches, args.seed)
    mean = {key: sum(row[key] for row in rows) / len(rows) for key in rows[0]}
    print(f"sharp_attention [sab+cu+tv] on synthetic, uniform recipe, pretrained start, {len(rows)} batches, mu = {weight}")
    print(f"  |g triplet|                 {mean['triplet']:.4g}")
    for reduction in ("mean", "sum"):
        share = mean[reduction] / mean["triplet"]
        print(f"  TV {reduction:4s}: value {mean[reduction + '_value']:.4g}, |mu g_TV| {mean[reduction]:.4g}, "
              f"share of the triplet's {share:.3g} (mu for a share of 0.3: {0.3 * weight / share:.3g})")


if __name__ == "__main__":
    main()
