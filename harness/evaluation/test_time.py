"""Test-time options of a re-id evaluation, applied in one fixed order and stated in every record.

Re-id papers differ in how they test as much as in how they train; each of these options changes the
numbers, so a record says which were used (:meth:`TestTimeOptions.describe`, the record's
``evaluation.test_time``) and the leaderboards never average runs tested differently.

Order (fast-reid's): features are extracted (``flip``: the mean of the image's and its horizontal
mirror's embeddings), then alpha-query expansion rewrites query and gallery features (``aqe``), then
the distance is taken (``distance``), then the re-ranked metrics are computed from the same features
(``rerank``: k-reciprocal re-ranking with ``k1``, ``k2``, ``lambda``; the plain metrics never depend
on it).

- ``distance="euclidean"``: torchreid's squared Euclidean distance of the features as they are.
- ``distance="cosine"``: features are L2-normalised first; the squared Euclidean distance of unit
  vectors is ``2 (1 - cos)``, so the ranking (and every metric) is that of the cosine distance, and
  re-ranking, which divides each row by its maximum, sees the same matrix as with ``1 - cos``.
- ``aqe`` (alpha-query expansion, Radenović et al., "Fine-tuning CNN Image Retrieval with No Human
  Annotation", TPAMI 2018, as fast-reid's ``TEST.AQE``): query and gallery features together; for
  each feature the ``k`` most cosine-similar features (itself included, it is the most similar) are
  averaged, each weighted by its cosine similarity to the power ``alpha``; repeated ``times`` times,
  similarities taken from the previous round's features. fast-reid's defaults are k 5, alpha 3, once.
"""
from dataclasses import asdict, dataclass, field
from typing import Optional

from ..choices import DISTANCES
from ..errors import UserError



@dataclass(frozen=True)
class QueryExpansion:
    """Alpha-query expansion parameters (fast-reid's ``TEST.AQE.QE_K``, ``ALPHA``, ``QE_TIME``)."""

    k: int = 5
    alpha: float = 3.0
    times: int = 1


@dataclass(frozen=True)
class Reranking:
    """k-reciprocal re-ranking parameters (Zhong et al., CVPR 2017; torchreid's and fast-reid's defaults)."""

    k1: int = 20
    k2: int = 6
    lambda_value: float = 0.3

    def kwargs(self):
        return {"k1": self.k1, "k2": self.k2, "lambda_value": self.lambda_value}


@dataclass(frozen=True)
class TestTimeOptions:
    """Everything about testing that is not the model: see the module docstring."""

    __test__ = False  # not a pytest test class despite its name

    flip: bool = False
    distance: str = "euclidean"
    aqe: Optional[QueryExpansion] = None
    rerank: Optional[Reranking] = field(default_factory=Reranking)

    def __post_init__(self):
        if self.distance not in DISTANCES:
            raise UserError(f"unknown distance {self.distance!r}; expected one of {', '.join(DISTANCES)}")
        if self.aqe is not None and (self.aqe.k < 1 or self.aqe.times < 1 or self.aqe.alpha < 0):
            raise UserError(f"query expansion needs k >= 1, times >= 1 and alpha >= 0, got k {self.aqe.k}, "
                            f"times {self.aqe.times}, alpha {self.aqe.alpha}")
        if self.rerank is not None and (self.rerank.k1 < 1 or self.rerank.k2 < 1
                                        or not 0.0 <= self.rerank.lambda_value <= 1.0):
            raise UserError(f"re-ranking needs k1 >= 1, k2 >= 1 and 0 <= lambda <= 1, got k1 {self.rerank.k1}, "
                            f"k2 {self.rerank.k2}, lambda {self.rerank.lambda_value}")

    def describe(self):
        """The options as the record's ``evaluation.test_time`` states them (``null`` where off)."""
        rerank = None
        if self.rerank is not None:
            rerank = {"k1": self.rerank.k1, "k2": self.rerank.k2, "lambda": self.rerank.lambda_value}
        return {"flip": self.flip, "distance": self.distance,
                "aqe": None if self.aqe is None else asdict(self.aqe), "rerank": rerank}

    def extractor(self, base):
        """The feature extractor ``base(model, images)``, averaged with its mirror image's with ``flip``."""
        if not self.flip:
            return base

        def flipped(model, images):
            import torch  # here, not at module import: the command line's parser reads this module's defaults

            return (base(model, images) + base(model, torch.flip(images, dims=[3]))) / 2

        return flipped

    def prepare(self, qf, gf):
        """Query and gallery features after query expansion and the distance's normalisation."""
        if self.aqe is not None:
            qf, gf = alpha_query_expansion(qf, gf, k=self.aqe.k, alpha=self.aqe.alpha, times=self.aqe.times)
        if self.distance == "cosine":
            import torch.nn.functional as F

            qf, gf = F.normalize(qf, p=2, dim=1), F.normalize(gf, p=2, dim=1)
        return qf, gf


def alpha_query_expansion(qf, gf, *, k=5, alpha=3.0, times=1, chunk_size=1024):
    """Alpha-query expansion of ``qf`` (q, d) and ``gf`` (g, d), float32: see the module docstring.

    Each new feature is ``sum_j sim_j ** alpha * f_j / k`` over the ``k`` features ``f_j`` (unnormalised,
    as fast-reid averages them) with the highest cosine similarity ``sim_j``; the similarity matrix is
    taken ``chunk_size`` rows at a time, so memory is ``chunk_size x (q + g)``, not ``(q + g)^2``.
    """
    import torch
    import torch.nn.functional as F

    num_query = qf.shape[0]
    features = torch.cat([qf, gf]).float()
    k = min(k, features.shape[0])
    for _ in range(times):
        unit = F.normalize(features, p=2, dim=1)
        expanded = torch.empty_like(features)
        for start in range(0, features.shape[0], chunk_size):
            sims, neighbours = torch.topk(unit[start:start + chunk_size] @ unit.t(), k, dim=1)
            weights = sims.pow(alpha)
            expanded[start:start + chunk_size] = (weights.unsqueeze(2) * features[neighbours]).mean(dim=1)
        features = expanded
    return features[:num_query], features[num_query:]
