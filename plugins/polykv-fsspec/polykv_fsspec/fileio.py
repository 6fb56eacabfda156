"""How each kind of file system reads, writes (atomically) and deletes one file or many.

* ``LocalIO``: plain ``os`` calls; a write goes to a temporary name then ``os.replace`` (atomic on POSIX);
  create-if-absent is ``os.link`` of the finished temporary file (atomic, fails if the name exists);
  replace-if-exists swaps the finished file in with ``renameat2(RENAME_EXCHANGE)`` (Linux; atomic).
* ``RenameIO`` (HDFS through ``hdfs-native``): write a temporary file, then an atomic NameNode rename
  (``overwrite=True`` to replace, ``False`` for create-if-absent, which fails if the name exists). Batches
  run their files on a bounded thread pool: HDFS has no multi-file call and one file costs round trips.
* ``WebHDFSIO``: temporary file + WebHDFS ``RENAME``, which never overwrites: create-if-absent is atomic;
  a replace deletes the old file first, so a reader may briefly see the key absent (never half-written).
* ``ObjectIO`` (S3 and any other fsspec file system): one ``pipe_file`` per value; an S3 PUT is atomic by
  itself. With ``conditional_writes`` an insert sends ``If-None-Match: *`` (atomic create-if-absent on AWS S3,
  SeaweedFS, MinIO) and a replace-if-exists sends ``If-Match: <ETag>`` of the object it found. Batches use
  fsspec's multi-path ``cat``/``pipe``/``rm``, which async file systems run concurrently.

Where ``atomic_replace`` is False, replace-if-exists checks then writes: a delete landing between the two is
undone (the record comes back with the new value).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from .exchange import ExchangeUnsupportedError, exchange
from .naming import TEMP_MARK

__all__ = ["DEFAULT_CONCURRENCY", "FileIO", "LocalIO", "ObjectIO", "RenameIO", "WebHDFSIO", "io_for", "run_all"]

#: Files a batch handles at once where the file system has no concurrent multi-path call of its own.
DEFAULT_CONCURRENCY = 16

T = TypeVar("T")
R = TypeVar("R")


def run_all(fn: Callable[[T], R], items: Sequence[T], concurrency: int = DEFAULT_CONCURRENCY) -> list[R]:
    """``[fn(item) for item in items]`` on up to ``concurrency`` threads, results in order.

    The first failure cancels the calls not yet started, waits for the running ones and is raised, so no
    call is left running behind the caller's back.
    """
    if len(items) <= 1 or concurrency <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(min(len(items), concurrency), thread_name_prefix="polykv-fsspec") as pool:
        futures = [pool.submit(fn, item) for item in items]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        error = next((f.exception() for f in futures if f in done and f.exception() is not None), None)
        if error is not None:
            for future in futures:
                future.cancel()
    if error is not None:
        raise error
    return [future.result() for future in futures]


#: Random per import; with the pid and a counter it names temporary files without a syscall per write.
_TEMP_TOKEN = secrets.token_hex(6)
_temp_numbers = itertools.count()


def _temp_name(path: str) -> str:
    folder, _, name = path.rpartition("/")
    return f"{folder}/{TEMP_MARK}tmp-{_TEMP_TOKEN}-{os.getpid()}-{next(_temp_numbers)}-{name[:40]}"


def _names(entries: Sequence[Any]) -> list[str]:
    out = []
    for entry in entries:
        name = entry["name"] if isinstance(entry, dict) else entry
        out.append(name.rstrip("/").rpartition("/")[2])
    return out


class FileIO:
    """The operations a store needs from a file system; subclasses pick the atomic way for theirs."""

    #: create-if-absent is atomic on this file system.
    atomic_add = False
    #: replace-if-exists is atomic on this file system (else: check, then write).
    atomic_replace = False

    def __init__(self, fs: Any) -> None:
        self.fs = fs

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None if it does not exist."""
        try:
            data: bytes = self.fs.cat_file(path)
        except FileNotFoundError:
            return None
        return data

    def read_many(self, paths: Sequence[str]) -> dict[str, bytes]:
        """The files that exist, by path, fetched in one multi-path ``cat``."""
        if not paths:
            return {}
        answers = self.fs.cat(list(paths), on_error="return")
        strip = self.fs._strip_protocol
        found = {}
        for path, data in answers.items():
            if isinstance(data, FileNotFoundError):
                continue
            if isinstance(data, BaseException):  # "omit" would hide an unreachable server as missing keys
                raise data
            found[strip(path)] = data
        return found

    def write(self, path: str, data: bytes) -> None:
        """Replace the file's content atomically (or as atomically as the file system allows)."""
        self.fs.pipe_file(path, data)

    def write_many(self, items: dict[str, bytes]) -> None:
        """Write many files (one after another here; subclasses batch them their own way)."""
        for path, data in items.items():
            self.write(path, data)

    def add(self, path: str, data: bytes) -> bool:
        """Create the file only if absent; return whether it was created (only when ``atomic_add``)."""
        raise NotImplementedError(f"{type(self).__name__} has no atomic create-if-absent")

    def replace(self, path: str, data: bytes) -> bool:
        """Overwrite the file only if it exists; return whether it did (atomic only when ``atomic_replace``)."""
        if not self.fs.exists(path):
            return False
        self.write(path, data)
        return True

    def delete(self, path: str) -> bool:
        """Remove the file; return whether it existed."""
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            return False
        return True

    def delete_many(self, paths: Sequence[str]) -> int:
        """Remove the files; return how many existed."""
        return sum(1 for path in paths if self.delete(path))

    def list_names(self, folder: str, dirs: bool = False) -> list[str]:
        """Names (not paths) of the files, or with ``dirs`` the sub-folders, directly in ``folder``."""
        try:
            entries = self.fs.ls(folder, detail=True)
        except FileNotFoundError:
            return []
        wanted = "directory" if dirs else "file"
        own = folder.rstrip("/")
        # object stores may list a zero-byte "folder/" marker object as a file: it is not a key
        return _names([e for e in entries if e.get("type") == wanted and e["name"].rstrip("/") != own])

    def remove_tree(self, folder: str) -> None:
        """Delete ``folder`` and everything in it (absent is fine)."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(folder, recursive=True)

    def close(self) -> None:
        """Release the file system's connections where it has a way to."""


class ObjectIO(FileIO):
    """Object stores: a PUT is atomic, batches are concurrent multi-path calls."""

    def __init__(self, fs: Any, conditional_writes: bool = False) -> None:
        super().__init__(fs)
        self.atomic_add = self.atomic_replace = conditional_writes

    def write_many(self, items: dict[str, bytes]) -> None:
        self.fs.pipe(items)

    def add(self, path: str, data: bytes) -> bool:
        if not self.atomic_add:
            return super().add(path, data)
        try:
            self.fs.pipe_file(path, data, IfNoneMatch="*")
        except OSError as exc:
            if _precondition_failed(exc):
                return False
            raise
        return True

    def replace(self, path: str, data: bytes) -> bool:
        if not self.atomic_replace:
            return super().replace(path, data)
        while True:  # compare-and-swap on the ETag; a concurrent writer makes us look again
            try:
                etag = self.fs.info(path, refresh=True)["ETag"]
                self.fs.pipe_file(path, data, IfMatch=etag)
            except FileNotFoundError:
                return False
            except OSError as exc:
                if _precondition_failed(exc):
                    continue
                raise
            return True

    def delete(self, path: str) -> bool:
        # S3 DELETE succeeds whether or not the object exists: ask first (the answer is informational).
        existed = bool(self.fs.exists(path))
        if existed:
            self.fs.rm_file(path)
        return existed

    def delete_many(self, paths: Sequence[str]) -> int:
        if not paths:
            return 0
        folder = paths[0].rpartition("/")[0]
        if any(p.rpartition("/")[0] != folder for p in paths):
            return super().delete_many(paths)
        self.fs.invalidate_cache(folder)
        present = set(self.list_names(folder))
        existing = [p for p in paths if p.rpartition("/")[2] in present]
        if existing:
            self.fs.rm(existing)
        return len(existing)

    def list_names(self, folder: str, dirs: bool = False) -> list[str]:
        self.fs.invalidate_cache(folder)
        return super().list_names(folder, dirs)

    def remove_tree(self, folder: str) -> None:
        self.fs.invalidate_cache(folder)
        super().remove_tree(folder)
        self.fs.invalidate_cache(folder)


def _precondition_failed(exc: BaseException) -> bool:
    current: BaseException | None = exc
    while current is not None:
        text = str(current)
        if "PreconditionFailed" in text or "pre-conditions you specified did not hold" in text or "412" in text:
            return True
        current = current.__cause__ or current.__context__
    return False


class RenameIO(FileIO):
    """HDFS (hdfs-native): temporary file then an atomic NameNode rename; batches on a bounded thread pool."""

    atomic_add = True

    def __init__(self, fs: Any, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        super().__init__(fs)
        self.concurrency = concurrency

    def read_many(self, paths: Sequence[str]) -> dict[str, bytes]:
        found = run_all(self.read, paths, self.concurrency)
        return {path: data for path, data in zip(paths, found, strict=True) if data is not None}

    def write_many(self, items: dict[str, bytes]) -> None:
        run_all(lambda item: self.write(*item), list(items.items()), self.concurrency)

    def delete_many(self, paths: Sequence[str]) -> int:
        return sum(run_all(self.delete, paths, self.concurrency))

    def write(self, path: str, data: bytes) -> None:
        self._publish(path, data, overwrite=True)

    def add(self, path: str, data: bytes) -> bool:
        return self._publish(path, data, overwrite=False)

    def _publish(self, path: str, data: bytes, overwrite: bool) -> bool:
        """Write a temporary file, then move it to ``path``; False (temporary removed) if ``path`` existed and
        ``overwrite`` is off. On any error the temporary file is removed and the error raised."""
        temp = _temp_name(path)
        self.fs.pipe_file(temp, data)
        try:
            moved = self._move(temp, path, overwrite)
        except BaseException:
            self._discard(temp)
            raise
        if not moved:
            self._discard(temp)
        return moved

    def _move(self, temp: str, path: str, overwrite: bool) -> bool:
        """One atomic NameNode rename; False when ``path`` exists and ``overwrite`` is off."""
        try:
            self.fs.mv(temp, path, overwrite=overwrite)
        except FileExistsError:
            if overwrite:
                raise
            return False
        return True

    def delete(self, path: str) -> bool:
        return bool(self.fs.client.delete(self.fs._strip_protocol(path), False))

    def _discard(self, temp: str) -> None:
        with contextlib.suppress(Exception):  # best effort; the original error is what the caller must see
            self.fs.rm_file(temp)


class WebHDFSIO(RenameIO):
    """WebHDFS: RENAME never overwrites, so create-if-absent is atomic and replace is delete + rename."""

    def _rename(self, temp: str, path: str) -> bool:
        answer = self.fs._call("RENAME", method="put", path=temp, destination=path)
        return bool(answer.json().get("boolean"))

    def _move(self, temp: str, path: str, overwrite: bool) -> bool:
        if not overwrite:
            return self._rename(temp, path)
        while not self._rename(temp, path):
            self.fs.rm(path)  # the target exists: remove it and try again
        return True

    def delete(self, path: str) -> bool:
        answer = self.fs._call("DELETE", method="delete", path=path, recursive="false")
        return bool(answer.json().get("boolean"))


class LocalIO(FileIO):
    """Local files through ``os``: temporary file + ``os.replace``; ``os.link`` for create-if-absent; an
    atomic exchange for replace-if-exists (falls back to check-then-write where the kernel has none)."""

    atomic_add = True
    atomic_replace = True

    def read(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def read_many(self, paths: Sequence[str]) -> dict[str, bytes]:
        found = {}
        for path in paths:
            data = self.read(path)
            if data is not None:
                found[path] = data
        return found

    def _write_temp(self, path: str, data: bytes) -> str:
        temp = _temp_name(path)
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.close(fd)
            os.unlink(temp)
            raise
        os.close(fd)
        return temp

    def write(self, path: str, data: bytes) -> None:
        temp = self._write_temp(path, data)
        try:
            os.replace(temp, path)
        except BaseException:
            os.unlink(temp)
            raise

    def add(self, path: str, data: bytes) -> bool:
        temp = self._write_temp(path, data)
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(temp)
        return True

    def replace(self, path: str, data: bytes) -> bool:
        if not os.path.exists(path):  # cheap early answer; the exchange below is what decides
            return False
        temp = self._write_temp(path, data)
        try:
            swapped = exchange(temp, path)
        except ExchangeUnsupportedError:
            os.unlink(temp)
            self.atomic_replace = False
            return super().replace(path, data)
        except BaseException:
            os.unlink(temp)
            raise
        os.unlink(temp)  # after a swap it holds the old content
        return swapped

    def delete(self, path: str) -> bool:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True

    def list_names(self, folder: str, dirs: bool = False) -> list[str]:
        try:
            with os.scandir(folder) as entries:
                return [e.name for e in entries if e.is_dir() == dirs]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def remove_tree(self, folder: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(folder)


def io_for(fs: Any, conditional_writes: bool = False) -> FileIO:
    """The ``FileIO`` that suits ``fs`` (by its protocol)."""
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    if "file" in protocols or "local" in protocols:
        return LocalIO(fs)
    if "webhdfs" in protocols:
        return WebHDFSIO(fs)
    if "hdfs" in protocols and hasattr(fs, "client"):
        return RenameIO(fs)
    return ObjectIO(fs, conditional_writes=conditional_writes)
