"""Progress bars on evaluation: with ``progress`` the metrics and re-ranking show a tqdm bar on stderr
and give the same numbers as without."""
import numpy as np
import torch

from reid_bench.evaluation.ranking import evaluate_features
from reid_bench.evaluation.reranking import evaluate_reranked


def test_bars_leave_the_metrics_unchanged(capfd):
    generator = torch.Generator().manual_seed(0)
    qf, gf = torch.randn(70, 8, generator=generator), torch.randn(90, 8, generator=generator)
    q_pids, g_pids = np.arange(70) % 10, np.arange(90) % 10
    q_cams, g_cams = np.zeros(70, dtype=int), np.ones(90, dtype=int)
    for evaluate, name in ((evaluate_features, "metrics"), (evaluate_reranked, "re-ranking")):
        quiet = evaluate(qf, gf, q_pids, g_pids, q_cams, g_cams, chunk_size=64)
        capfd.readouterr()
        shown = evaluate(qf, gf, q_pids, g_pids, q_cams, g_cams, chunk_size=64, progress=True)
        assert name in capfd.readouterr().err
        assert shown.mAP == quiet.mAP and np.array_equal(shown.cmc, quiet.cmc)
