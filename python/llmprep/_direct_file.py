"""A temporary output file whose bulk is written with O_DIRECT, past the page cache.

A token file is written once, front to back, then synced (`_outputs.Output.flush`) and renamed: a
buffered write copies every byte into page-cache pages that the sync then writes out anyway. On the
2-core development VM, 640 MB written buffered took 1.8-2.2 s of system time (allocating and filling
the cache's pages; `copy_folio_from_iter_atomic` was a fifth of `llmprep tokenize`'s CPU samples)
and 0.22 s with O_DIRECT. So the bytes go through an aligned staging buffer and are written with
O_DIRECT in whole aligned blocks while the file is written sequentially; the first seek, flush or
close writes what is left through the page cache and the file carries on as a plain buffered one
(the header written last, the index, the checksum table: small).

O_DIRECT is an optimisation, never a requirement: where the platform has none (macOS, Windows),
the file system refuses it (EINVAL when it is set or on a write), or a write comes back short, the
same bytes are written buffered instead, from the staging buffer, and nothing is lost. Any other
error (ENOSPC, EIO) is raised as it is, for `Output` to report and clean up after.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
from typing import BinaryIO

__all__ = ["DirectFile", "open_direct"]

_O_DIRECT: int = getattr(os, "O_DIRECT", 0)
_write = os.write  # the one call that writes (a module attribute: tests make it fail)


class DirectFile:
    """A binary file over ``fd`` (positioned at 0, owned: closed by `close`) that writes its
    sequential bulk with O_DIRECT; the subset of `BinaryIO` the writers use. Built by
    `open_direct`."""

    #: File offsets and lengths of direct writes are multiples of this (4 KiB: the page size and
    #: the logical block size of nearly every device; a device that needs more refuses with EINVAL,
    #: and the file falls back to buffered writes).
    ALIGN = 4096
    #: The staging buffer: each direct write is this many bytes (class attribute: tests shrink it).
    STAGE_BYTES = 8 << 20

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._stage: mmap.mmap | None = None  # page-aligned, made on the first write
        self._used = 0  # bytes staged, from file offset self._base
        self._base = 0
        self._plain: BinaryIO | None = None  # after the direct phase: a buffered file over fd
        self._closed = False

    # -- the direct phase ----------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._plain is not None:
            return self._plain.write(data)
        view = memoryview(data)
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        n = view.nbytes
        if self._stage is None:
            self._stage = mmap.mmap(-1, self.STAGE_BYTES)
        done = 0
        while done < n:
            take = min(n - done, self.STAGE_BYTES - self._used)
            self._stage[self._used : self._used + take] = view[done : done + take]
            self._used += take
            done += take
            if self._used == self.STAGE_BYTES:
                self._write_staged(self.STAGE_BYTES)
        return n

    def _write_staged(self, length: int) -> None:
        """Writes the first ``length`` staged bytes (a multiple of ALIGN) at self._base, with
        O_DIRECT while it is on; whatever a refused or short direct write leaves goes buffered."""
        assert self._stage is not None
        view = memoryview(self._stage)[:length]
        written = 0
        try:
            while written < length:
                n = _write(self._fd, view[written:])
                written += n
                if n % self.ALIGN:  # a short, unaligned write: the rest cannot go direct
                    self._direct_off()
        except OSError as e:
            if e.errno != errno.EINVAL or not self._direct_on():
                raise
            self._direct_off()  # the file system or device refused this write: buffered from here
            while written < length:
                written += _write(self._fd, view[written:])
        finally:
            view.release()
        # Keep the unwritten tail (none unless length < self._used) at the stage's start.
        rest = self._used - length
        if rest:
            self._stage.move(0, length, rest)
        self._used = rest
        self._base += length

    def _direct_on(self) -> bool:
        import fcntl

        return bool(fcntl.fcntl(self._fd, fcntl.F_GETFL) & _O_DIRECT)

    def _direct_off(self) -> None:
        import fcntl

        flags = fcntl.fcntl(self._fd, fcntl.F_GETFL)
        if flags & _O_DIRECT:
            fcntl.fcntl(self._fd, fcntl.F_SETFL, flags & ~_O_DIRECT)

    def _end_direct(self) -> BinaryIO:
        """Writes what is staged (its aligned part direct, the rest buffered) and hands the file
        over to a buffered file object at the same position."""
        if self._plain is None:
            if self._used:
                aligned = self._used - self._used % self.ALIGN
                if aligned:
                    self._write_staged(aligned)
                self._direct_off()
                if self._used:
                    self._write_staged(self._used)
            else:
                self._direct_off()
            self._release_stage()
            self._plain = os.fdopen(self._fd, "w+b", buffering=1 << 20)
        return self._plain

    # -- everything else goes through the buffered file ------------------------------------------

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._end_direct().seek(offset, whence)

    def tell(self) -> int:
        if self._plain is None:
            return self._base + self._used
        return self._plain.tell()

    def flush(self) -> None:
        self._end_direct().flush()

    def fileno(self) -> int:
        return self._fd

    def seekable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Writes what is staged, as any buffered file does, and closes the descriptor (also
        when that write fails: the error is raised after)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._plain is None and self._stage is not None and self._used:
                self._end_direct()
        finally:
            self._release_stage()
            if self._plain is not None:
                self._plain.close()
            else:
                os.close(self._fd)

    def _release_stage(self) -> None:
        # An exception's traceback may still hold a view of the buffer (the failed write's
        # argument): the mapping is then unmapped when the last view goes, not here.
        if self._stage is not None:
            with contextlib.suppress(BufferError):
                self._stage.close()
            self._stage = None


def open_direct(fd: int) -> BinaryIO:
    """``fd`` (a new, empty regular file opened for writing) as a `DirectFile`, or as a plain
    buffered file where O_DIRECT is not available or the file system refuses it."""
    if _O_DIRECT:
        import fcntl

        try:
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags | _O_DIRECT)
        except OSError:
            pass
        else:
            return DirectFile(fd)  # type: ignore[return-value]
    return os.fdopen(fd, "w+b", buffering=1 << 20)
