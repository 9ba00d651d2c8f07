"""psychrnn from Python: train biologically constrained rate RNNs on cognitive tasks written
as Rhai scripts, and read what a run wrote as numpy arrays and pandas DataFrames.

The ``psychrnn-rs`` wheel installs the ``psychrnn`` binary and this package, which drives it::

    import psychrnn_rs as pr
    r = pr.run("task.rhai", model={"n_rec": 50}, train={"iterations": 500})
    r.weights["W_rec"], r.history, r.trials.outputs, r.accuracy_by_condition
    batch = pr.trials("task.rhai", n=32, seed=1)          # inputs, targets, mask, conditions
    sim = pr.simulate(r, n=64, silence=[0, 1, 2])          # a lesioned network's responses

Errors from psychrnn arrive as :class:`PsychrnnError` carrying its message.
"""

from ._binary import find_psychrnn
from .commands import report, run, simulate, test, trial_batches, trials
from .errors import PsychrnnError
from .run_bundle import Run, load_run, read_weights
from .trials_file import FORMAT_VERSION, Trials, read_trials

__all__ = [
    "FORMAT_VERSION",
    "PsychrnnError",
    "Run",
    "Trials",
    "find_psychrnn",
    "load_run",
    "read_trials",
    "read_weights",
    "report",
    "run",
    "simulate",
    "test",
    "trial_batches",
    "trials",
]
