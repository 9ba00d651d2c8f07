"""Finding the ``psychrnn`` binary that the wheel installed beside this package."""

import os
import shutil
import sys
import sysconfig
from pathlib import Path

from .errors import PsychrnnError

_EXE = "psychrnn" + (sysconfig.get_config_var("EXE") or "")


def find_psychrnn() -> str:
    """The path of the ``psychrnn`` binary this package drives.

    Looked up in order: the ``PSYCHRNN_BIN`` environment variable (e.g. a
    ``target/release/psychrnn`` you built yourself), the scripts folder of the
    running interpreter (where ``pip install psychrnn-rs`` puts it, in a venv or
    not), the user scripts folder (``pip install --user``), a ``bin`` folder
    beside the package (``pip install --target``), then ``PATH``.

    Raises:
        PsychrnnError: when none of these holds the binary.
    """
    override = os.environ.get("PSYCHRNN_BIN")
    if override:
        if not os.path.isfile(override):
            raise PsychrnnError(f"PSYCHRNN_BIN={override} is not a file")
        return override
    candidates = [Path(sysconfig.get_path("scripts")) / _EXE]
    user_scheme = sysconfig.get_preferred_scheme("user") if hasattr(sysconfig, "get_preferred_scheme") else None
    if user_scheme:
        candidates.append(Path(sysconfig.get_path("scripts", scheme=user_scheme)) / _EXE)
    candidates.append(Path(__file__).resolve().parent.parent / "bin" / _EXE)
    for path in candidates:
        if path.is_file():
            return str(path)
    on_path = shutil.which(_EXE)
    if on_path:
        return on_path
    looked = ", ".join(str(p) for p in candidates)
    raise PsychrnnError(
        f"the psychrnn binary is not installed (looked in {looked} and on PATH; "
        f"interpreter {sys.executable}): reinstall the psychrnn-rs wheel or set PSYCHRNN_BIN"
    )
