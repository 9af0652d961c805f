"""Where an index may be written. `--out` replaces only a smallrag index: a user's folder, file,
source folder or working directory is refused before anything is read or written, because the
atomic swap that publishes an index would otherwise delete whatever was there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from smallrag.core.errors import UnsafeOutputError
from smallrag.indexes.manifest import is_index_folder

_NEW_FOLDER = "choose a new folder name (or an empty folder) for --out"


def check_output_folder(out: str | Path, sources: Iterable[str | Path] = ()) -> Path:
    """The resolved path `out` when an index may be written there: a missing path, an empty folder
    or an existing smallrag index that is none of `sources` nor holds them. Else UnsafeOutputError
    saying what is there."""
    given = str(out)
    if not given.strip():
        raise UnsafeOutputError(f"--out {given!r} is empty; {_NEW_FOLDER}")
    path = Path(out).expanduser()
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        what = "the current directory" if resolved == cwd else "a folder that holds the current directory"
        raise UnsafeOutputError(f"--out {given!r} is {what}; smallrag replaces the whole --out "
                                f"folder, so {_NEW_FOLDER}, e.g. --out ./my-index")
    for source in sources:
        source_path = Path(source).expanduser().resolve()
        if source_path == resolved:
            raise UnsafeOutputError(f"--out {given!r} is also a source to index; {_NEW_FOLDER}")
        if resolved in source_path.parents:
            raise UnsafeOutputError(f"--out {given!r} holds the source {str(source)!r}; {_NEW_FOLDER}")
    if path.is_symlink() and not path.exists():
        raise UnsafeOutputError(f"--out {given!r} is a broken symbolic link; remove it or {_NEW_FOLDER}")
    if not path.exists():
        return resolved
    if not path.is_dir():
        raise UnsafeOutputError(f"--out {given!r} is an existing file, not an index folder; {_NEW_FOLDER}")
    if is_index_folder(resolved):
        return resolved
    entries = sorted(os.listdir(resolved))
    if entries:
        shown = ", ".join(entries[:3]) + (f" and {len(entries) - 3} more" if len(entries) > 3 else "")
        raise UnsafeOutputError(f"--out {given!r} is a folder that is not a smallrag index (it holds {shown}); "
                                f"smallrag replaces only its own index folders: {_NEW_FOLDER}")
    return resolved
