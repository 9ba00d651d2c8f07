"""``python -m psychrnn_rs ARGS``: the same as ``psychrnn ARGS``."""

import os
import subprocess
import sys

from ._binary import find_psychrnn


def main() -> int:
    """Runs the bundled psychrnn binary with this process's arguments; returns its status."""
    binary = find_psychrnn()
    if sys.platform == "win32":
        return subprocess.call([binary, *sys.argv[1:]])
    os.execv(binary, [binary, *sys.argv[1:]])
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
