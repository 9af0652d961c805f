"""Atomic publication of an index folder: write everything into a temp folder beside the
target, then swap it in with one rename, so readers see the old index or the new one,
never a half-written one. A crash or Ctrl-C before the swap leaves the old index intact.

Writers of one folder also take an exclusive lock (`writer_lock`), so two updates that both read
the old folder cannot overwrite each other; readers never take it, so they never wait. Targets
are resolved first: a symbolic link to an index swaps the real folder and stays a link."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import glob
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Iterator

from smallrag.core.errors import LockTimeoutError

logger = logging.getLogger(__name__)

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux renameat2(RENAME_EXCHANGE); False if unsupported."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def _temp_name(target: Path, kind: str) -> Path:
    return target.with_name(f".{target.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(target: Path) -> None:
    """Remove temp folders and old-index backups left by processes that died (crash, kill -9).
    Backups go only while `target` exists, i.e. after recover_interrupted_swap had its chance."""
    kinds = ("tmp", "old") if target.exists() else ("tmp",)
    for kind in kinds:
        for path, pid in _temps(target, kind):
            if not _pid_alive(pid):
                logger.info("removing stale %s folder %s", kind, path)
                _remove(path)


def _temps(target: Path, kind: str) -> list[tuple[Path, int]]:
    """The temp folders (`kind` tmp or old) of `target` with the pid that made each. The name is
    escaped: an index called "a[1]" must not match the temp folders of "a1"."""
    found = []
    for path in target.parent.glob(f".{glob.escape(target.name)}.{kind}-*"):
        try:
            found.append((path, int(path.name[len(f".{target.name}.{kind}-"):].split("-")[0])))
        except ValueError:
            continue
    return found


def recover_interrupted_swap(target: Path) -> None:
    """If a crash fell between the two renames of the fallback swap, put the old index back.
    Only a backup whose writer has died: a live writer is between its two renames right now,
    and a reader that restored its backup would make that writer's update fail and be lost."""
    if target.exists():
        return
    backups = sorted((path for path, pid in _temps(target, "old") if not _pid_alive(pid)),
                     key=lambda p: p.stat().st_mtime)
    if backups:
        logger.warning("restoring %s from interrupted update %s", target, backups[-1])
        os.rename(backups[-1], target)


def _remove(path: Path) -> None:
    """Remove a temp folder, or a link left where one was (rmtree refuses links)."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def lock_path(target: str | Path) -> Path:
    """The lock file of `target`: beside it, since the folder itself is swapped."""
    target = Path(target).resolve()
    return target.with_name(f".{target.name}.lock")


@contextlib.contextmanager
def writer_lock(target: str | Path, timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive writer lock of `target` (an fcntl lock, released by the kernel when the
    process dies). A second writer waits, logging once that it does; after `timeout` seconds
    (None: no limit, 0: do not wait) it raises LockTimeoutError. The lock file is never deleted:
    deleting it would let two writers lock two different files."""
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)  # a build may create its parent folders anyway
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        waiting = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise LockTimeoutError(
                        f"{Path(target)} is being written by another process (lock {path}) and it did not finish "
                        f"within {timeout:g} s; try again later, or wait longer with --lock-timeout SECONDS") from None
                if not waiting:
                    logger.warning("%s is being written by another process; waiting for it to finish", target)
                    waiting = True
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield a fresh temp folder; on clean exit it replaces `target` atomically."""
    target = Path(target).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_interrupted_swap(target)
    clean_stale_temps(target)
    tmp = _temp_name(target, "tmp")
    tmp.mkdir()
    try:
        yield tmp
        _fsync_tree(tmp)
        publish(tmp, target)
    except BaseException:
        _remove(tmp)
        raise


def publish(tmp: Path, target: Path) -> None:
    if not target.exists():
        os.rename(tmp, target)
        return
    if _exchange(tmp, target):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old index
        return
    backup = _temp_name(target, "old")
    os.rename(target, backup)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(backup, target)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
