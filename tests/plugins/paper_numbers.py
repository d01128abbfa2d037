"""The reported numbers of a method on one protocol and variant (what a plugin's tests check)."""


def reported_for(method, protocol, variant=None):
    """``method``'s :class:`reid_bench.Reported` entries on ``protocol`` for ``variant`` (default: its
    default variant; an entry without a variant is the default one's)."""
    variant = variant or method.default_variant
    return [r for r in method.reported if r.protocol == protocol and (r.variant or method.default_variant) == variant]
