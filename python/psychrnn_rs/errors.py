"""The one exception type: psychrnn refused or failed, with its own message."""

from typing import Optional, Sequence


class PsychrnnError(Exception):
    """psychrnn refused the input or failed; ``str(error)`` is psychrnn's message.

    Attributes:
        message: psychrnn's message (its stderr, ``error: `` prefix removed), e.g.
            ``/path/task.rhai:1:9: Unexpected ';'``.
        returncode: the binary's exit status (2: bad input, 1: failure), or
            ``None`` when no binary ran (e.g. a run directory that cannot be read).
        command: the command line that ran, or ``None``.
        stderr: everything the binary wrote to stderr.
    """

    def __init__(
        self,
        message: str,
        returncode: Optional[int] = None,
        command: Optional[Sequence[str]] = None,
        stderr: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.returncode = returncode
        self.command = list(command) if command is not None else None
        self.stderr = stderr
