"""Protocols the harness ships: the embedded ``synthetic`` set, the public re-id benchmarks and
CIFAR-100 for the classification track. Each dataset's module checks its on-disk layout and never
downloads (see the README, "Datasets and protocols")."""


def builtin_protocols():
    """The :class:`reid_bench.spec.ProtocolSpec` objects registered by the harness itself."""
    from . import cifar100, cuhk03, dukemtmcreid, market1501, msmt17, synthetic

    return [synthetic.PROTOCOL, synthetic.SHIFT_PROTOCOL, market1501.PROTOCOL,
            market1501.MULTI_QUERY_PROTOCOL, dukemtmcreid.PROTOCOL, *cuhk03.PROTOCOLS, msmt17.PROTOCOL,
            cifar100.PROTOCOL]
