"""The psychrnn commands as Python functions: :func:`run`, :func:`trials`,
:func:`trial_batches`, :func:`test`, :func:`simulate`, :func:`report`."""

import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence, Tuple, Union

import numpy as np

from ._process import optional_flags, run_psychrnn, set_flags
from .errors import PsychrnnError
from .run_bundle import Run, load_run
from .trials_file import Trials, read_trials

PathLike = Union[str, Path]

_FILES_IN = "; files in "


def run(
    script: PathLike,
    out: Optional[PathLike] = None,
    seed: Optional[int] = None,
    *,
    progress: bool = True,
    overwrite: bool = False,
    lib: Sequence[PathLike] = (),
    threads: Optional[int] = None,
    **settings: Any,
) -> Run:
    """Trains the network a script declares (``psychrnn run``) and returns the loaded run.

    Args:
        script: the experiment script (``.rhai``), or a run's ``config.yaml`` to reproduce it.
        out: the run directory [default: ``runs/NAME``, or ``runs/NAME-2``, … if taken].
        seed: the seed of every random stream (wins over the script's ``seed``).
        progress: print psychrnn's progress lines as they come (a notebook shows them live).
        overwrite: replace the run already in ``out``.
        lib: extra folders to search for imported modules.
        threads: threads for the model's matrix products [default: all cores].
        **settings: overrides of the experiment's settings, one dict per section, e.g.
            ``model={"n_rec": 8}, train={"iterations": 50}`` (``--set model.n_rec=8 --set
            train.iterations=50``); dotted keys work too: ``**{"model.n_rec": 8}``. Unknown
            fields are refused with the valid ones listed.

    Raises:
        PsychrnnError: psychrnn refused the script or a setting, or training failed; the
            message names the file:line:col or the field.
    """
    args = ["run", str(script), *set_flags(settings)]
    args += optional_flags({"--out": out, "--seed": seed, "--threads": threads})
    for folder in lib:
        args += ["--lib", str(folder)]
    if overwrite:
        args.append("--overwrite")
    lines = run_psychrnn(args, show_progress=progress)
    if out is not None:
        return load_run(out)
    done = [line for line in lines if line.startswith("done:") and _FILES_IN in line]
    if not done:
        raise PsychrnnError("psychrnn run finished without naming its run directory:\n" + "\n".join(lines))
    return load_run(done[-1].rsplit(_FILES_IN, 1)[1])


def trials(
    script: PathLike,
    n: int = 64,
    seed: Optional[int] = None,
    *,
    lib: Sequence[PathLike] = (),
    **settings: Any,
) -> Trials:
    """``n`` trials of the script's task (``psychrnn trials -o batch.npz``), as numpy arrays:
    inputs, targets, mask ``[n, T, channels]``, conditions, epochs, channel names, dt, tau.

    Args:
        script: the experiment script.
        n: the number of trials (1 to 100000).
        seed: the seed of the trials [default: the script's].
        lib: extra folders to search for imported modules.
        **settings: setting overrides, as in :func:`run` (e.g. ``task={...}`` settings).

    Raises:
        PsychrnnError: psychrnn refused the script, a setting or ``n``.
    """
    with tempfile.TemporaryDirectory(prefix="psychrnn-trials-") as folder:
        path = Path(folder) / "batch.npz"
        args = ["trials", str(script), "-n", str(n), "-o", str(path), *set_flags(settings)]
        args += optional_flags({"--seed": seed})
        for extra in lib:
            args += ["--lib", str(extra)]
        run_psychrnn(args, show_progress=False)
        return read_trials(path)


def trial_batches(
    script: PathLike,
    batch_size: int = 64,
    seed: int = 0,
    n_batches: Optional[int] = None,
    *,
    batches_per_call: int = 16,
    lib: Sequence[PathLike] = (),
    **settings: Any,
) -> Iterator[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Task batches for a training loop of your own (PyTorch, JAX, numpy): yields
    ``(inputs, targets, mask)`` float32 arrays ``[batch_size, T, channels]``, forever or
    ``n_batches`` times. Nothing here imports torch; ``torch.from_numpy`` takes them as
    they are.

    The batches are drawn ``batches_per_call`` at a time; call ``k`` (from 0) uses seed
    ``seed + k``, so the same arguments give the same batches.

    Example::

        for x, y, m in trial_batches("task.rhai", batch_size=32, n_batches=100):
            loss = ((model(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2 * torch.from_numpy(m)).mean()
    """
    if batch_size < 1 or batches_per_call < 1:
        raise PsychrnnError(f"batch_size ({batch_size}) and batches_per_call ({batches_per_call}) must be at least 1")
    produced, call = 0, 0
    while n_batches is None or produced < n_batches:
        want = batches_per_call if n_batches is None else min(batches_per_call, n_batches - produced)
        chunk = trials(script, n=want * batch_size, seed=seed + call, lib=lib, **settings)
        for k in range(want):
            rows = slice(k * batch_size, (k + 1) * batch_size)
            yield chunk.inputs[rows], chunk.targets[rows], chunk.mask[rows]
        produced += want
        call += 1


def test(
    run: Union[PathLike, Run],
    n: int = 512,
    seed: Optional[int] = None,
    *,
    out: Optional[PathLike] = None,
    script: Optional[PathLike] = None,
) -> Trials:
    """The trained network on ``n`` fresh trials (``psychrnn test``; PsychRNN's
    ``model.test``): inputs, targets, mask, outputs, states, rates, conditions, epochs and
    the scorer's verdicts.

    Args:
        run: the run directory (or a :class:`Run`).
        n: the number of fresh trials (1 to 100000).
        seed: their seed [default: the run's].
        out: where to keep the file [default: a temporary file; the run's own
            ``trials.npz`` is left as it is].
        script: the task script [default: the run's copy of its script].

    Raises:
        PsychrnnError: psychrnn refused the run or the arguments.
    """
    root = load_run(run).path
    return _to_trials_file(
        out,
        lambda path: ["test", str(root), "-n", str(n), "-o", str(path)]
        + optional_flags({"--seed": seed, "--script": script}),
    )


def simulate(
    run: Union[PathLike, Run],
    inputs: Union[np.ndarray, Trials, None] = None,
    n: int = 64,
    seed: Optional[int] = None,
    *,
    silence: Iterable[int] = (),
    cut: Iterable[Tuple[int, int]] = (),
    connectivity: Optional[np.ndarray] = None,
    noise: Optional[float] = None,
    out: Optional[PathLike] = None,
    script: Optional[PathLike] = None,
) -> Trials:
    """The trained rate RNN on given inputs or on ``n`` fresh trials of its task, optionally
    perturbed (``psychrnn simulate``; PsychRNN's ``BasicSimulator.run_trials``).

    Args:
        run: the run directory (or a :class:`Run`).
        inputs: inputs ``[trials, steps, N_in]`` to run the network on (PsychRNN's
            ``trial_input``), or :class:`Trials` (e.g. from :func:`trials`, edited), whose
            targets and mask are kept; such trials are not scored (``correct`` is ``None``).
            ``None``: fresh trials of the run's task, scored by its scorer.
        n: the number of fresh trials (1 to 100000) when ``inputs`` is ``None``.
        seed: the seed of the trials and the recurrent noise [default: the run's].
        silence: units whose rates reach no unit and no output.
        cut: connections ``(from, to)`` to remove from W_rec.
        connectivity: ``[T, N_rec, N_rec]`` masks multiplying W_rec at each step
            (PsychRNN's ``t_connectivity``).
        noise: recurrent noise σ_rec instead of the run's (0 for a deterministic run).
        out: where to keep the file [default: a temporary file].
        script: the task script [default: the run's copy of its script].

    Raises:
        PsychrnnError: psychrnn refused the run or a perturbation (a unit that does not
            exist, masks of the wrong shape, …).
    """
    root = load_run(run).path
    silence = [int(u) for u in silence]
    with tempfile.TemporaryDirectory(prefix="psychrnn-simulate-") as folder:
        args = ["simulate", str(root)]
        if inputs is None:
            args += ["-n", str(n)]
        else:
            given = Path(folder) / "inputs.npz"
            if isinstance(inputs, Trials):
                np.savez(given, inputs=inputs.inputs, targets=inputs.targets, mask=inputs.mask)
            else:
                np.savez(given, inputs=np.asarray(inputs, dtype=np.float32))
            args += ["--inputs", str(given)]
        args += optional_flags({"--seed": seed, "--noise": noise, "--script": script})
        if silence:
            args += ["--silence", ",".join(str(u) for u in silence)]
        for source, target in cut:
            args += ["--cut", f"{int(source)}:{int(target)}"]
        if connectivity is not None:
            masks = Path(folder) / "connectivity.npz"
            np.savez(masks, connectivity=np.asarray(connectivity, dtype=np.float32))
            args += ["--connectivity", str(masks)]
        return _to_trials_file(out, lambda path: args + ["-o", str(path)])


def report(run: Union[PathLike, Run], *, script: Optional[PathLike] = None) -> Path:
    """Draws (again) the run's report (``psychrnn report``); returns its ``index.html``."""
    root = load_run(run).path
    run_psychrnn(["report", str(root), *optional_flags({"--script": script})], show_progress=False)
    return root / "report" / "index.html"


def _to_trials_file(out: Optional[PathLike], command) -> Trials:
    """Runs ``command(path)`` (psychrnn writing a trials file to ``path``) and reads the file:
    at ``out`` when given, else in a temporary folder removed afterwards."""
    if out is not None:
        os.makedirs(Path(out).resolve().parent, exist_ok=True)
        run_psychrnn(command(Path(out)), show_progress=False)
        return read_trials(out)
    with tempfile.TemporaryDirectory(prefix="psychrnn-") as folder:
        path = Path(folder) / "trials.npz"
        run_psychrnn(command(path), show_progress=False)
        return read_trials(path)
