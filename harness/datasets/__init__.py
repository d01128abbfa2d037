"""Protocols the harness ships: the embedded ``synthetic`` set and the public re-id benchmarks."""


def builtin_protocols():
    """The :class:`reid_bench.spec.ProtocolSpec` objects registered by the harness itself."""
    from . import synthetic

    return [synthetic.PROTOCOL]
