"""Writing files so that nothing is ever half-written.

Every file the package writes goes through :func:`atomic_write`: the bytes go
to a temporary file in the destination's own directory, are flushed to disk,
and only then renamed over the destination. A crash, a kill or an exception
at any moment leaves either the old file or the new one, never a mix, and no
temporary file behind (except after a hard kill, as a hidden ``.*.tmp``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from nnscratch.errors import OutputError


def _default_mode() -> int:
    """``0o666`` less the process umask: the mode ``open()`` would have given."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(fh)`` on a temporary file, then rename it to ``path``.

    An operating-system failure (disk full, read-only, no permission) becomes
    an :class:`~nnscratch.errors.OutputError` that names ``path`` and says
    nothing was replaced.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise _output_error(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, _default_mode())  # mkstemp creates 0600
        os.replace(tmp_name, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise _output_error(path, exc) from exc
        raise
    return path


def _output_error(path: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    return OutputError(f"{path}: could not write the file ({reason}); nothing was replaced")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
