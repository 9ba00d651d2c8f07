"""Shared fixtures: the repository's scripts and one tiny network trained through the API."""

from pathlib import Path

import pytest

import psychrnn_rs as pr

REPO = Path(__file__).resolve().parents[2]
PD_SCRIPT = REPO / "scripts" / "perceptual_discrimination.rhai"

#: Settings that keep a training run to a fraction of a second on 2 cores.
TINY = {
    "model": {"n_rec": 8},
    "train": {"iterations": 30, "batch_size": 8, "eval_trials": 8, "test_trials": 64},
}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A perceptual-discrimination network of 8 units trained 30 iterations via ``pr.run``."""
    out = tmp_path_factory.mktemp("runs") / "pd"
    return pr.run(PD_SCRIPT, out=out, seed=3, progress=False, **TINY)
