"""Running the psychrnn binary: progress lines streamed as they come, errors raised."""

import json
import signal
import subprocess
import sys
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ._binary import find_psychrnn
from .errors import PsychrnnError


def set_flags(settings: Mapping[str, Any]) -> List[str]:
    """``--set SECTION.KEY=VALUE`` flags for ``settings``.

    A value that is a dict is a section: ``model={"n_rec": 8}`` gives
    ``--set model.n_rec=8``; a key may also be dotted already
    (``**{"model.n_rec": 8}``). Values are written as JSON, which psychrnn reads
    as YAML: numbers, ``True``/``False`` (true/false), ``None`` (null), strings,
    lists and dicts keep their type.
    """
    flags: List[str] = []
    for key, value in settings.items():
        if isinstance(value, Mapping):
            for inner_key, inner in set_pairs(str(key), value):
                flags += ["--set", f"{inner_key}={json.dumps(inner)}"]
        else:
            flags += ["--set", f"{key}={json.dumps(value)}"]
    return flags


def set_pairs(prefix: str, section: Mapping[str, Any]):
    """The (dotted key, value) pairs of a nested settings dict under ``prefix``."""
    for key, value in section.items():
        dotted = f"{prefix}.{key}"
        if isinstance(value, Mapping) and value:
            yield from set_pairs(dotted, value)
        else:
            yield dotted, value


def run_psychrnn(args: Sequence[str], show_progress: bool = True) -> List[str]:
    """Runs ``psychrnn ARGS`` and returns its stdout lines.

    Each stdout line (psychrnn's progress: one line per evaluation) is printed as
    it arrives when ``show_progress`` is true, so a notebook cell shows training
    as it goes; warnings and notes on stderr are printed too. Interrupting (Ctrl-C,
    a notebook's stop button) forwards the interrupt to psychrnn, which stops
    after the current iteration and keeps its checkpoint, then raises
    ``KeyboardInterrupt``.

    Raises:
        PsychrnnError: psychrnn exited with a nonzero status; the exception
            carries its message.
    """
    command = [find_psychrnn(), *[str(a) for a in args]]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
    )
    stderr_lines: List[str] = []

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            stderr_lines.append(line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    stdout_lines: List[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            stdout_lines.append(line.rstrip("\n"))
            if show_progress:
                print(line, end="", flush=True)
        process.wait()
    except KeyboardInterrupt:
        if sys.platform != "win32":
            process.send_signal(signal.SIGINT)
        process.wait()
        raise
    reader.join()
    stderr = "".join(stderr_lines)
    if process.returncode != 0:
        raise PsychrnnError(_message(stderr, process.returncode), process.returncode, command, stderr)
    if show_progress and stderr:
        print(stderr, end="", file=sys.stderr, flush=True)
    return stdout_lines


def _message(stderr: str, returncode: int) -> str:
    """psychrnn's error message from its stderr, without the leading ``error: ``."""
    text = stderr.strip()
    if not text:
        return f"psychrnn exited with status {returncode} and no message"
    if text.startswith("error: "):
        text = text[len("error: "):]
    return text


def optional_flags(pairs: Dict[str, Any]) -> List[str]:
    """``[flag, value]`` for each pair whose value is not ``None``."""
    flags: List[str] = []
    for flag, value in pairs.items():
        if value is not None:
            flags += [flag, str(value)]
    return flags
