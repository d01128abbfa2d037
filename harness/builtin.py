"""The harness's own registrations: generic loss terms, samplers and the protocols it ships.

Loaded as the plugin ``reid_bench`` before any other, through the same hooks every plugin uses.
"""
from . import datasets
from .models import losses
from .data import samplers
from .hookspecs import hookimpl


@hookimpl
def reid_bench_register_losses(registry):
    registry.add("cross_entropy", losses.CrossEntropyTerm)
    registry.add("triplet", losses.BatchHardTripletTerm)


@hookimpl
def reid_bench_register_samplers(registry):
    registry.add("random", samplers.random_sampler)
    registry.add("identity", samplers.identity_sampler)


@hookimpl
def reid_bench_register_datasets(registry):
    for protocol in datasets.builtin_protocols():
        registry.add(protocol.name, protocol)
