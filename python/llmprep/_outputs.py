"""Where every writer's bytes go: the one place that decides output policy.

Every file llmprep writes (token files, raw ids and their sidecars, merged files, vocabularies)
goes through `Output`, which decides once, before any work:

* an output that is one of the inputs (the same file by device and inode, however spelled) is an
  error;
* an existing regular file is an error unless ``overwrite=True`` (``--force``);
* a directory, a missing folder or a folder that cannot be written is an error naming it;
* a character device or FIFO (``/dev/null``, ``/dev/stdout``, a named pipe) is written in place,
  never renamed over, and gets no companion files; ``"-"`` is standard output where allowed;
* a regular file is written to a hidden temporary file beside it and renamed into place only when
  complete, with mode ``0666 & ~umask`` like any other tool's output.

Any failure (ENOSPC, EIO, an exception, Ctrl-C, SIGTERM once the CLI turns it into
KeyboardInterrupt) removes every temporary file, and the error names the output, not the
temporary file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from ._direct_file import open_direct

__all__ = ["STDOUT", "Output", "check_output", "is_in_place"]

#: The output name that means standard output (``-o -``).
STDOUT = "-"


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _input_identities(inputs: Iterable[str | os.PathLike[str]]) -> dict[tuple[int, int], str]:
    found: dict[tuple[int, int], str] = {}
    for item in inputs:
        name = os.fspath(item)
        try:
            st = os.fstat(0) if name == "-" else os.stat(name)
        except OSError:
            continue  # a missing input is reported by whoever reads it
        found.setdefault(_identity(st), "standard input" if name == "-" else name)
    return found


def is_in_place(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is written in place: standard output, a character device or a FIFO."""
    name = os.fspath(path)
    if name == STDOUT:
        return True
    try:
        mode = os.stat(name).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def check_output(
    path: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str]] = (),
    overwrite: bool = False,
    allow_stdout: bool = False,
) -> bool:
    """Checks that ``path`` may be written, before any work is done.

    Args:
        path: The output (``"-"`` is standard output when ``allow_stdout``).
        inputs: Files the run reads; the output must be none of them.
        overwrite: Replace an existing regular file (``--force``).
        allow_stdout: Accept ``"-"``.

    Returns:
        True when the output is written in place (standard output, a character device, a FIFO),
        False when it is a regular file written through a temporary file.

    Raises:
        ValueError: The output is one of the inputs, or ``"-"`` where standard output is not allowed.
        FileExistsError: The output exists and ``overwrite`` is False.
        IsADirectoryError, FileNotFoundError, PermissionError, OSError: The output is a directory or
            another kind of file that cannot be written, or its folder is missing or not writable.

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> check_output(os.path.join(folder, "new.tok"))
    False
    >>> check_output(os.devnull)
    True
    """
    name = os.fspath(path)
    if name == STDOUT:
        if not allow_stdout:
            raise ValueError("this output cannot be standard output ('-'); name a file")
        st: os.stat_result | None = os.fstat(1)
    else:
        try:
            st = os.stat(name)
        except FileNotFoundError:
            st = None
    if st is not None:
        same = _input_identities(inputs).get(_identity(st))
        if same is not None:
            shown = "standard output" if name == STDOUT else name
            raise ValueError(f"the output {shown} is also an input ({same}): choose another output file")
    if name == STDOUT:
        return True
    if st is None:
        folder = Path(name).resolve().parent
        if not folder.is_dir():
            raise FileNotFoundError(f"cannot write {name}: folder {folder} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write {name}: folder {folder} is not writable")
        return False
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"cannot write {name}: it is a directory; name a file inside it")
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        return True
    if not stat.S_ISREG(st.st_mode):
        raise OSError(f"cannot write {name}: it is neither a regular file, a character device nor a FIFO")
    if not overwrite:
        raise FileExistsError(f"{name} already exists; pass --force (overwrite=True) to replace it")
    folder = Path(name).resolve().parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot replace {name}: folder {folder} is not writable")
    return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Output:
    """One output, opened for writing after `check_output`'s policy; commit or abort it.

    ``file`` is a binary file: a hidden temporary file beside the destination (renamed over it by
    `commit`), or the destination itself when it is written in place (``in_place``). As a context
    manager, leaving normally commits and an exception aborts.

    Args:
        path: The destination, or ``"-"`` for standard output (with ``allow_stdout``).
        inputs: Files the run reads (the output must be none of them).
        overwrite: Replace an existing regular file.
        allow_stdout: Accept ``"-"``.
        seekable: The writer seeks back (a header written last): a destination written in place
            must then support seeking, else ValueError.
        direct: Write the temporary file's sequential bulk with O_DIRECT where the file system
            allows it (`_direct_file`): for large outputs written once, front to back.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.bin")
    >>> with Output(path) as out:
    ...     _ = out.file.write(b"abc")
    >>> Path(path).read_bytes()
    b'abc'
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        inputs: Iterable[str | os.PathLike[str]] = (),
        overwrite: bool = False,
        allow_stdout: bool = False,
        seekable: bool = False,
        direct: bool = False,
    ) -> None:
        self.name = os.fspath(path)
        self.in_place = check_output(self.name, inputs=inputs, overwrite=overwrite, allow_stdout=allow_stdout)
        self._temps: list[Path] = []
        self._scratch: list[BinaryIO] = []
        self._done = False
        self._flushed = False
        if self.name == STDOUT and seekable:
            raise ValueError(
                "standard output ('-o -') cannot be sought back to write a header: "
                "stream --format raw to it, or write the llmprep format to a file"
            )
        self.display = "standard output" if self.name == STDOUT else self.name
        if self.in_place:
            self.target: Path | None = None
            try:
                if self.name == STDOUT:
                    sys.stdout.flush()
                    self.file: BinaryIO = os.fdopen(os.dup(1), "wb", buffering=1 << 20)
                else:
                    self.file = open(self.name, "wb", buffering=1 << 20)  # noqa: SIM115 (closed by commit/abort)
            except OSError as e:
                raise self.error(e) from None
            if seekable and not self.file.seekable():
                self.file.close()
                raise ValueError(
                    f"{self.display} cannot be sought back to write a header: use --format raw to stream to it"
                )
        else:
            # Rename over the real file, so a symbolic link at `path` keeps pointing at the output.
            self.target = Path(os.path.realpath(self.name))
            self.file = self._temp_file(self.target.parent, direct=direct)

    def _temp_file(self, folder: Path, *, direct: bool = False) -> BinaryIO:
        try:
            fd, temp = tempfile.mkstemp(prefix=f".{Path(self.name).name}.", suffix=".tmp", dir=folder)
        except OSError as e:
            raise self.error(e) from None
        self._temps.append(Path(temp))
        return open_direct(fd) if direct else os.fdopen(fd, "w+b", buffering=1 << 20)

    def scratch(self) -> BinaryIO:
        """A temporary file for spilled data, removed by `commit` and `abort` (beside the output,
        or in the system's temporary folder when the output is written in place)."""
        folder = Path(tempfile.gettempdir()) if self.target is None else self.target.parent
        f = self._temp_file(folder)
        self._scratch.append(f)
        return f

    def error(self, e: OSError) -> OSError:
        """The same kind of OSError, naming the output instead of any temporary file. One that is
        already such an error comes back as it is (a write error seen again when the writer
        closes was reported as "cannot write X: cannot write X: ...")."""
        if getattr(e, "_names_output", False):
            return e
        reason = e.strerror or str(e)
        new = type(e)(f"cannot write {self.display}: {reason}")
        new.errno = e.errno
        new._names_output = True  # type: ignore[attr-defined]
        return new

    def flush(self) -> None:
        """Writes everything out (synced to disk for a regular file), so that errors such as ENOSPC
        surface here, before anything is renamed; `commit` calls it if the caller did not."""
        if self._flushed:
            return
        try:
            self.file.flush()
            if self.target is not None:
                os.fsync(self.file.fileno())
                os.fchmod(self.file.fileno(), 0o666 & ~_umask())  # mkstemp makes 0600
            self.file.close()
        except OSError as e:
            self.abort()
            raise self.error(e) from None
        except BaseException:
            self.abort()
            raise
        self._flushed = True

    def commit(self) -> None:
        """Flushes and closes the output; a regular file is synced and renamed into place."""
        if self._done:
            return
        self.flush()
        try:
            if self.target is not None:
                os.replace(self._temps[0], self.target)
                self._temps.pop(0)
        except OSError as e:
            self.abort()
            raise self.error(e) from None
        except BaseException:
            self.abort()
            raise
        self._done = True
        self._remove_temps()

    def abort(self) -> None:
        """Discards the output: temporary files are removed (in-place output is left as written)."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError, ValueError):
            self.file.close()  # a buffered write may fail again here (ENOSPC): nothing to keep
        self._remove_temps()

    def _remove_temps(self) -> None:
        for f in self._scratch:
            with contextlib.suppress(OSError, ValueError):
                f.close()
        self._scratch.clear()
        for p in self._temps:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        self._temps.clear()

    def __enter__(self) -> Output:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()
