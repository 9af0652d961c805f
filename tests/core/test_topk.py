"""Row-wise top-k with ties broken by row, and the per-query hits without excluded places."""

import numpy as np

from smallrag.core.topk import top_k, top_k_hits


def test_ties_break_by_row_also_at_the_cut():
    scores = np.array([[1.0, 3.0, 3.0, 3.0, -np.inf]])
    rows, top = top_k(scores, 2)
    assert rows.tolist() == [[1, 2]] and top.tolist() == [[3.0, 3.0]]


def test_hits_leave_out_excluded_rows_and_may_be_fewer_than_k():
    scores = np.array([[0.5, -np.inf, 2.0], [-np.inf, -np.inf, -np.inf]])
    hits = top_k_hits(scores, 3)
    assert [(r.tolist(), s.tolist()) for r, s in hits] == [([2, 0], [2.0, 0.5]), ([], [])]
    assert [(r.tolist(), s.tolist()) for r, s in top_k_hits(scores, 0)] == [([], []), ([], [])]
