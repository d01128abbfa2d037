"""Re-ranked distances as one matrix, to compare with torchreid's (small cases only)."""
import numpy as np


def whole(reranked):
    """The whole query x gallery matrix of a :class:`reid_bench.evaluation.reranking.RerankedDistances`."""
    return np.concatenate([rows for _, _, rows in reranked.iter_chunks()], axis=0)
