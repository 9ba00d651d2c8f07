"""Trials as psychrnn writes them: ``trials.npz`` (``psychrnn test``), ``simulation.npz``
(``psychrnn simulate``) and task batches (``psychrnn trials -o batch.npz``)."""

from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from .errors import PsychrnnError

#: The file format this package reads (``format_version`` in every run file).
FORMAT_VERSION = 1


def check_format_version(version, where: str) -> None:
    """Refuses a file written in a format this package does not know."""
    if version is None:
        return
    if int(version) != FORMAT_VERSION:
        raise PsychrnnError(
            f"{where} has format_version {int(version)}; this psychrnn_rs reads format_version "
            f"{FORMAT_VERSION}: install the psychrnn-rs that wrote it"
        )


class Trials:
    """A set of trials, arrays ``[trial, step, channel]`` (float32), as numpy arrays.

    Attributes:
        inputs: ``[B, T, N_in]``.
        targets: ``[B, T, N_out]``.
        mask: ``[B, T, N_out]``, 1 where the loss counts (PsychRNN's ``mask``).
        outputs: ``[B, T, N_out]``, the network's outputs, or ``None`` for a task batch.
        states: ``[B, T, N_rec]``, the state x_t (``None`` for a task batch).
        rates: ``[B, T, N_rec]``, the rates f(x_t) (``None`` for a task batch).
        correct: ``[B]`` bool, the task scorer's verdicts (``None`` for a task batch).
        credit: ``[B]`` partial credit in [0, 1] from a closure scorer, else ``None``.
        conditions: name -> ``[B]`` array: float64 (NaN where a trial lacks it), or the
            labels (str) of a text condition.
        input_names, output_names: the channels' names.
        dt, tau: the task's time step and time constant (ms).
        epoch_names: the epoch columns' names (a name repeats when a trial repeats it).
        epoch_start, epoch_end: ``[B, E]`` steps ``start..end`` of each epoch column, -1
            where a trial lacks it (E = 0 for tasks written per step).
        path: the file read.
    """

    def __init__(self, arrays: Dict[str, np.ndarray], path: Optional[Path] = None):
        """Trials from the arrays of a psychrnn trials file (see :func:`read_trials`)."""
        self.path = path
        self.inputs = arrays["inputs"]
        self.targets = arrays["targets"]
        self.mask = arrays["mask"]
        self.outputs = arrays.get("outputs")
        self.states = arrays.get("states")
        self.rates = arrays.get("rates")
        self.correct = arrays.get("correct")
        self.credit = arrays.get("credit")
        self.input_names = _names(arrays.get("input_names"))
        self.output_names = _names(arrays.get("output_names"))
        self.dt = float(arrays["dt"]) if "dt" in arrays else None
        self.tau = float(arrays["tau"]) if "tau" in arrays else None
        self.epoch_names = _names(arrays.get("epoch_names"))
        n = self.inputs.shape[0]
        empty = np.zeros((n, 0), dtype=np.int64)
        self.epoch_start = arrays.get("epoch_start", empty)
        self.epoch_end = arrays.get("epoch_end", empty)
        self.conditions: Dict[str, np.ndarray] = {}
        for key, values in arrays.items():
            if key.startswith("condition_"):
                name = key[len("condition_"):]
                labels = arrays.get("label_" + name)
                self.conditions[name] = labels if labels is not None else values

    def __len__(self) -> int:
        """The number of trials."""
        return self.inputs.shape[0]

    def __getitem__(self, index) -> "Trials":
        """The trials at ``index`` (an int, slice, index array or bool mask), as Trials."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1)
        picked = Trials.__new__(Trials)
        for key, value in vars(self).items():
            if key == "conditions":
                value = {name: v[index] for name, v in value.items()}
            elif isinstance(value, np.ndarray) and value.ndim >= 1 and key not in (
                "input_names", "output_names", "epoch_names"
            ):
                value = value[index]
            setattr(picked, key, value)
        return picked

    @property
    def accuracy(self) -> Optional[float]:
        """The task scorer's accuracy on these trials (mean credit, else fraction correct)."""
        if self.credit is not None:
            return float(np.mean(self.credit))
        if self.correct is not None:
            return float(np.mean(self.correct))
        return None

    def epoch_spans(self, trial: int) -> List[Tuple[str, int, int]]:
        """The epochs of one trial, in order: ``(name, start, end)`` steps, ``start..end``."""
        spans = [
            (name, int(s), int(e))
            for name, s, e in zip(self.epoch_names, self.epoch_start[trial], self.epoch_end[trial])
            if s >= 0
        ]
        return sorted(spans, key=lambda span: span[1])

    def epoch(self, name: str) -> Tuple[np.ndarray, np.ndarray]:
        """The first epoch called ``name`` in each trial: ``(start, end)`` arrays ``[B]``
        (-1 where a trial lacks it).

        Raises:
            KeyError: no epoch has that name; the message lists those that do.
        """
        if name not in self.epoch_names:
            raise KeyError(f"no epoch `{name}`; epochs: {', '.join(dict.fromkeys(self.epoch_names))}")
        column = self.epoch_names.index(name)
        return self.epoch_start[:, column], self.epoch_end[:, column]

    def __repr__(self) -> str:
        b, t, n_in = self.inputs.shape
        kind = "task batch" if self.outputs is None else "trials with responses"
        return (
            f"<Trials: {b} {kind}, {t} steps, inputs {self.input_names or n_in}, "
            f"outputs {self.output_names or self.targets.shape[2]}>"
        )


def read_trials(path: Union[str, Path]) -> Trials:
    """Reads a trials file psychrnn wrote (``trials.npz``, ``simulation.npz``, a task batch).

    Only numeric, bool and text arrays are read (no pickles). Older files, whose text labels
    sit in ``trials_labels.yaml`` beside them, are read with plain numbers instead.

    Raises:
        PsychrnnError: the file is missing, lacks ``inputs``/``targets``/``mask``, or was
            written in another ``format_version``.
    """
    path = Path(path)
    if not path.is_file():
        raise PsychrnnError(f"{path}: no such trials file")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    missing = [k for k in ("inputs", "targets", "mask") if k not in arrays]
    if missing:
        raise PsychrnnError(f"{path} is not a psychrnn trials file: no {', '.join(missing)}")
    check_format_version(arrays.get("format_version"), str(path))
    return Trials(arrays, path)


def _names(values) -> List[str]:
    """A text array as a list of str (empty when absent)."""
    return [] if values is None else [str(v) for v in values]
