"""A run directory (``psychrnn run``'s output) read back as numpy arrays, dicts and
DataFrames: :func:`load_run`."""

import csv
import functools
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np
import yaml

from .errors import PsychrnnError
from .trials_file import Trials, check_format_version, read_trials

try:  # pandas is optional: DataFrames with it, dicts of arrays without.
    import pandas as _pandas
except ImportError:  # pragma: no cover - exercised only where pandas is absent
    _pandas = None

#: The history.csv columns psychrnn writes, with their types.
HISTORY_COLUMNS = {
    "iteration": int,
    "trials_seen": int,
    "loss": float,
    "eval_loss": float,
    "accuracy": float,
    "stage": str,
    "seconds": float,
}


class Run:
    """A trained network's run directory. Files are read when first asked for, then kept.

    Attributes:
        path: the run directory.
    """

    def __init__(self, path: Union[str, Path]):
        """Opens the run directory at ``path``; see :func:`load_run`."""
        self.path = Path(path)
        if not (self.path / "config.yaml").is_file():
            raise PsychrnnError(f"{self.path} is not a psychrnn run directory: it has no config.yaml")
        check_format_version(self.config.get("format_version"), str(self.path / "config.yaml"))

    @functools.cached_property
    def config(self) -> Dict[str, Any]:
        """``config.yaml``: the fully resolved experiment (task, model, train, …), the seed,
        the script and its SHA-256, the ``--set`` overrides."""
        return _read_yaml(self.path / "config.yaml")

    @functools.cached_property
    def summary(self) -> Optional[Dict[str, Any]]:
        """``summary.yaml`` (final_accuracy, final_loss, iterations, stop_reason, warnings, …),
        or ``None`` while the run has not finished (it is written last)."""
        path = self.path / "summary.yaml"
        if not path.is_file():
            return None
        summary = _read_yaml(path)
        check_format_version(summary.get("format_version"), str(path))
        return summary

    @functools.cached_property
    def weights(self) -> Dict[str, Any]:
        """``weights.npz`` under PsychRNN's keys: ``W_in`` [N_rec, N_in], ``W_rec``,
        ``W_out`` [N_out, N_rec], ``b_rec``, ``b_out``, ``init_state`` [1, N_rec],
        ``Dale_rec``, ``Dale_out``, the connectivity masks (float32 arrays; ``W_*`` are the
        effective weights, as PsychRNN saves them), ``dale_ratio`` (a float, or ``None``
        without Dale's principle) and ``transfer_function`` (the name of the TensorFlow
        function the file references, e.g. ``"tensorflow.nn.relu"``; read without
        importing TensorFlow)."""
        return read_weights(self.path / "weights.npz")

    @functools.cached_property
    def trials(self) -> Optional[Trials]:
        """``trials.npz``: the test trials with the network's outputs, states, rates,
        conditions, epochs and verdicts (:class:`Trials`), or ``None`` before testing."""
        path = self.path / "trials.npz"
        return read_trials(path) if path.is_file() else None

    @functools.cached_property
    def history(self):
        """``history.csv``, one row per evaluation: iteration, trials_seen, loss, eval_loss,
        accuracy, stage, seconds. A pandas DataFrame when pandas is installed, else a dict
        of numpy arrays."""
        path = self.path / "history.csv"
        if not path.is_file():
            raise PsychrnnError(f"{path}: no such file (the run has not evaluated yet)")
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        columns: Dict[str, np.ndarray] = {}
        for name, kind in HISTORY_COLUMNS.items():
            values = [kind(row[name]) if kind is str else kind(float(row[name])) for row in rows]
            columns[name] = np.array(values, dtype=object if kind is str else kind)
        return _pandas.DataFrame(columns) if _pandas is not None else columns

    @functools.cached_property
    def analysis(self) -> Optional[Dict[str, Any]]:
        """``analysis.yaml``: the report's numbers (psychometric fit, ``accuracy_by``,
        chronometric curve, PCA, fixed points), with the arrays of ``analysis.npz`` (e.g.
        ``pca_components``) under the key ``"arrays"``; ``None`` before the report."""
        path = self.path / "analysis.yaml"
        if not path.is_file():
            return None
        analysis = _read_yaml(path)
        check_format_version(analysis.get("format_version"), str(path))
        arrays_path = self.path / "analysis.npz"
        if arrays_path.is_file():
            with np.load(arrays_path, allow_pickle=False) as npz:
                analysis["arrays"] = {key: npz[key] for key in npz.files}
        return analysis

    @property
    def accuracy_by_condition(self):
        """Test accuracy per value of the report's condition (``analysis.yaml``'s
        ``accuracy_by``, else ``summary.yaml``'s): columns value, trials, accuracy, with the
        condition's name in ``.attrs["condition"]`` (a DataFrame with pandas; without it a
        dict of arrays with the name under ``"condition"``). ``None`` when the run has none."""
        source = (self.analysis or {}).get("accuracy_by") or (self.summary or {}).get("accuracy_by")
        if not source:
            return None
        groups = source.get("groups", [])
        columns = {
            "value": np.array([g["value"] for g in groups]),
            "trials": np.array([g["trials"] for g in groups], dtype=np.int64),
            "accuracy": np.array([g["accuracy"] for g in groups], dtype=np.float64),
        }
        if _pandas is None:
            return {"condition": source.get("condition"), **columns}
        frame = _pandas.DataFrame(columns)
        frame.attrs["condition"] = source.get("condition")
        return frame

    @property
    def report(self) -> Optional[Path]:
        """The report's ``index.html``, or ``None`` when it has not been drawn."""
        index = self.path / "report" / "index.html"
        return index if index.is_file() else None

    def test(self, n: int = 512, seed: Optional[int] = None, **kwargs) -> Trials:
        """This network on ``n`` fresh trials: :func:`psychrnn_rs.test` (PsychRNN's ``model.test``)."""
        from .commands import test

        return test(self, n=n, seed=seed, **kwargs)

    def simulate(self, inputs=None, n: int = 64, seed: Optional[int] = None, **kwargs) -> Trials:
        """This network on given inputs or fresh trials, optionally perturbed:
        :func:`psychrnn_rs.simulate`."""
        from .commands import simulate

        return simulate(self, inputs, n=n, seed=seed, **kwargs)

    def __repr__(self) -> str:
        s = self.summary
        done = f"test accuracy {s['final_accuracy']:.3f}" if s else "not finished"
        return f"<Run {self.path}: {self.config.get('name')}, {done}>"


def load_run(path: Union[str, Path, Run]) -> Run:
    """The run directory at ``path`` (written by ``psychrnn run`` or :func:`psychrnn_rs.run`).

    Example::

        r = load_run("runs/perceptual_discrimination")
        r.weights["W_rec"].shape         # (50, 50)
        r.history.accuracy.iloc[-1]      # last evaluation's accuracy
        r.trials.outputs.shape           # (512, 200, 2)

    Raises:
        PsychrnnError: the folder has no config.yaml, or a file was written in another
            ``format_version``.
    """
    return path if isinstance(path, Run) else Run(path)


class _NamedGlobal(str):
    """The dotted name of a Python object a pickle references (never imported)."""


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles PsychRNN's 0-d object entries without importing what they reference:
    numpy's array reconstruction is allowed, any other global becomes its dotted name."""

    _NUMPY = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        """numpy's own classes; any other reference as its name."""
        if (module, name) in self._NUMPY:
            return super().find_class(module, name)
        return _NamedGlobal(f"{module}.{name}")


def read_weights(path: Union[str, Path]) -> Dict[str, Any]:
    """A weights file in PsychRNN's layout (psychrnn's ``weights.npz`` or PsychRNN's
    ``model.save``) as a dict of numpy arrays; ``dale_ratio`` becomes a float or ``None``,
    a pickled ``transfer_function`` its dotted name (str). Nothing is imported or executed
    while reading: pickled entries are decoded by a restricted unpickler.

    Raises:
        PsychrnnError: the file is missing or not an npz.
    """
    path = Path(path)
    if not path.is_file():
        raise PsychrnnError(f"{path}: no such weights file")
    weights: Dict[str, Any] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n[:-4] for n in archive.namelist() if n.endswith(".npy")]
            with np.load(path, allow_pickle=False) as npz:
                for key in names:
                    try:
                        weights[key] = npz[key]
                    except ValueError:  # a pickled object entry
                        weights[key] = _read_pickled(archive.read(key + ".npy"))
    except zipfile.BadZipFile as e:
        raise PsychrnnError(f"{path} is not an npz file: {e}") from None
    for key in ("dale_ratio", "transfer_function"):
        value = weights.get(key)
        if isinstance(value, np.ndarray) and value.ndim == 0:
            item = value.item()
            weights[key] = str(item) if isinstance(item, str) else item
    if isinstance(weights.get("dale_ratio"), (np.floating, np.integer)):
        weights["dale_ratio"] = float(weights["dale_ratio"])
    return weights


def _read_pickled(npy: bytes):
    """The value of a 0-d object ``.npy`` (the pickle after its header)."""
    stream = io.BytesIO(npy)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        np.lib.format.read_array_header_1_0(stream)
    else:
        np.lib.format.read_array_header_2_0(stream)
    return _SafeUnpickler(stream).load()


def _read_yaml(path: Path) -> Dict[str, Any]:
    """A YAML mapping file."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise PsychrnnError(f"{path} is not a YAML mapping")
    return data
