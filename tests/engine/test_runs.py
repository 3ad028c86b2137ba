import numpy as np

from voicemend.engine.runs import true_runs


def test_runs_of_true_are_half_open_and_in_order():
    mask = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], dtype=bool)
    assert true_runs(mask) == [(0, 2), (3, 4), (6, 9)]
    assert true_runs(np.zeros(4, dtype=bool)) == []
    assert true_runs(np.ones(3, dtype=bool)) == [(0, 3)]


def test_runs_shorter_than_min_length_are_dropped():
    mask = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], dtype=bool)
    assert true_runs(mask, min_length=2) == [(0, 2), (6, 9)]
    assert true_runs(mask, min_length=3) == [(6, 9)]
    assert all(isinstance(v, int) for run in true_runs(mask, 2) for v in run)
