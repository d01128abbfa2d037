"""Hook specifications of reid-bench (pluggy project name ``reid_bench``).

A plugin is a module (or any object) that implements some of these hooks with ``@hookimpl``.
Built-in plugins and third-party packages are found the same way: an entry point in the group
``reid_bench`` naming the module, or ``--plugin-module some.module`` on the command line.

Every hook is a *registration* hook: it is called exactly once per plugin with a
:class:`reid_bench.registry.Registry` and adds named entries to it with ``registry.add(name, obj)``.
A name registered by two plugins is an error naming both; a plugin whose hook raises is reported and
skipped while the others load. ``docs/plugin-authors.md`` is the author's guide; ``reid-bench new-plugin NAME``
writes a package to start from.

Example::

    from reid_bench import hookimpl

    @hookimpl
    def reid_bench_register_models(registry):
        registry.add("my_net", build_my_net)
"""
import pluggy

PROJECT_NAME = "reid_bench"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def reid_bench_register_models(registry):
    """Register model builders.

    An entry is a callable ``builder(num_classes, *, task, input_size, pretrained, **kwargs)``
    returning a ``torch.nn.Module`` that follows torchreid's convention:

    - in ``train()`` mode ``forward(images)`` returns a ``dict`` of named tensors (logits, embeddings,
      attention maps, penalties ...) which the method's loss terms consume;
    - in ``eval()`` mode it returns the retrieval embedding, shape ``(B, D)``, for ``task="reid"``, or
      class logits ``(B, num_classes)`` for ``task="classification"``.

    ``input_size`` is ``(height, width)`` of the training images; ``pretrained`` is ``False`` or a
    :class:`reid_bench.models.weights.Pretrained` telling where ImageNet weights come from. A model may
    expose named attention maps through a ``attention_maps`` dict filled on each forward, ``(B, h, w)``
    or ``(B, C, h, w)`` tensors, which ``reid-bench visualize attention`` draws; maps that exist only for
    pairs of images (one per pair) come from an optional ``forward_pairs(images)``.
    """


@hookspec
def reid_bench_register_losses(registry):
    """Register loss-term builders.

    An entry is a callable ``builder(**kwargs)`` returning a ``torch.nn.Module`` whose
    ``forward(outputs, targets)`` takes the model's output dict and the batch's identity labels
    (``LongTensor (B,)``) and returns a scalar tensor. A loss module may own parameters (e.g. class
    centres); a :class:`reid_bench.spec.LossTerm` can give them an optimizer of their own.
    """


@hookspec
def reid_bench_register_samplers(registry):
    """Register training batch samplers.

    An entry is a callable ``builder(data_source, batch_size, **kwargs)`` returning a
    ``torch.utils.data.Sampler`` of dataset indices. ``data_source`` is the training list of
    ``(img_path, pid, camid, dsetid)`` tuples (torchreid's format). The data loader cuts the index
    stream into consecutive batches of ``batch_size`` in the order the sampler yields them, so a
    sampler controls batch composition (identities x instances, consecutive pairs, ...). Under torchrun
    every rank takes a contiguous share of each batch; a sampler whose stream is made of units that must
    stay on one rank says how many indices a unit holds with a ``batch_unit`` attribute (a P x K
    sampler's ``num_instances`` counts as one; :mod:`reid_bench.engine.distributed`).
    """


@hookspec
def reid_bench_register_methods(registry):
    """Register methods: :class:`reid_bench.spec.MethodSpec` objects.

    A method ties a registered model, weighted loss terms over the model's named outputs, a sampler,
    its paper's recipe per protocol, named variants (ablation switches), test-time feature options,
    the numbers the paper reports per protocol (with their source table) and the citation.
    """


@hookspec
def reid_bench_register_datasets(registry):
    """Register datasets/protocols: :class:`reid_bench.spec.ProtocolSpec` objects.

    A protocol names a dataset, its split and its task (``"reid"`` or ``"classification"``) and knows
    how to load it from a root folder (never downloading) with a clear error when the folder does not
    have the expected layout.
    """
