"""Turning configured inputs into FileTasks (driver side: file metadata only, no content)."""

from __future__ import annotations

import glob
import os
import posixpath
import re
from typing import Iterator

from curate.errors import InputError
from curate.ingest.opening import compression_of, file_size
from curate.ingest.records import FileTask
from curate.schemas.config import IngestConfig, InputConfig
from curate.storage import Storage, is_remote

_TEXT_EXTENSIONS = (".txt", ".text", ".md", ".rst")
_JSONL_EXTENSIONS = (".jsonl", ".json", ".ndjson")


def detect_format(path: str) -> str | None:
    name = path.lower()
    comp = compression_of(name)
    if comp:
        name = name[: -len(comp)]
    if name.endswith(".wet") or name.endswith(".warc.wet"):
        return "wet"
    if name.endswith(".warc"):
        return "warc"
    if name.endswith(_JSONL_EXTENSIONS):
        return "jsonl"
    if name.endswith(".parquet") and not comp:
        return "parquet"
    if name.endswith(_TEXT_EXTENSIONS):
        return "text"
    return None


_WILDCARDS = "*?["


def _glob_base(pattern: str) -> str:
    """The folder of a glob's first wildcard."""
    head = pattern[: min(pattern.index(ch) for ch in _WILDCARDS if ch in pattern)]
    return head if head.endswith("/") else posixpath.dirname(head)


def _glob_regex(pattern: str) -> re.Pattern:
    """A glob as the local one reads it: `*` and `?` within a name, `**` across folders, [..] sets."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1:end].replace("!", "^", 1) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _remote_base_and_files(path: str, storage: Storage) -> tuple[str, list[str]]:
    """`_base_and_files` on an object store: one listing of the folder (or the glob's folder) on the
    driver; the files themselves are read by the tasks."""
    from pyarrow import fs

    prefix = path.split("://", 1)[0] + "://"
    glob_base = _glob_base(path) if any(ch in path for ch in _WILDCARDS) else None
    filesystem, inner = storage.filesystem(glob_base or path)
    info = filesystem.get_file_info(inner)
    if glob_base is None and info.type == fs.FileType.File:
        return posixpath.dirname(path), [path]
    if info.type != fs.FileType.Directory:
        raise InputError(f"input path {path!r} does not exist; check the input's path")
    listed = sorted(prefix + i.path for i in filesystem.get_file_info(fs.FileSelector(inner, recursive=True))
                    if i.type == fs.FileType.File)
    if glob_base is None:
        return path.rstrip("/"), listed
    pattern = _glob_regex(path)
    files = [f for f in listed if pattern.match(f)]
    if not files:
        raise InputError(f"input glob {path!r} matches no file; check the input's path")
    return glob_base.rstrip("/"), files


def _base_and_files(path: str, storage: Storage) -> tuple[str, list[str]]:
    """The folder uris are relative to, and the files a path/dir/glob names (sorted)."""
    if is_remote(path):
        return _remote_base_and_files(path, storage)
    path = path.removeprefix("file://")
    if any(ch in path for ch in "*?["):
        base = path.split("*")[0].split("?")[0].split("[")[0]
        base = base if base.endswith(os.sep) else os.path.dirname(base)
        files = sorted(p for p in glob.glob(path, recursive=True) if not os.path.isdir(p))
        if not files:
            raise InputError(f"input glob {path!r} matches no file; check the input's path")
        return base.rstrip(os.sep) or ".", files
    if os.path.isdir(path):
        files = []
        for d, dirs, names in os.walk(path):  # not into linked directories: they are listed, then skipped
            dirs.sort()
            linked = [n for n in dirs if os.path.islink(os.path.join(d, n))]
            files.extend(os.path.join(d, n) for n in sorted(names + linked))
        return path.rstrip(os.sep), files
    if os.path.isfile(path):
        return os.path.dirname(path), [path]
    raise InputError(f"input path {path!r} does not exist; check the input's path")


_SPECIAL = "not a regular file (named pipe, socket, device or broken link): not read, reading could block"


def _special(path: str) -> bool:
    return not is_remote(path) and not os.path.isfile(path.removeprefix("file://"))


def _rel(path: str, base: str) -> str:
    return posixpath.relpath(path.replace(os.sep, "/"), base.replace(os.sep, "/")) if base else path


def list_tasks(inputs: list[InputConfig], cfg: IngestConfig, *, storage: Storage = Storage()) -> list[FileTask]:
    """The tasks of `inputs`; `storage`: how inputs on an object store are reached (listed once here,
    on the driver; read by the tasks)."""
    tasks: list[FileTask] = []
    for inp in inputs:
        if inp.kind == "code" and inp.format in ("auto", "code"):
            if is_remote(inp.path) and not any(ch in inp.path for ch in _WILDCARDS):
                tasks.extend(_remote_code_tree(inp, cfg, storage))
                continue
            if not is_remote(inp.path) and os.path.isdir(inp.path):
                tasks.extend(_code_tree(inp, cfg))
                continue
        base, files = _base_and_files(inp.path, storage)
        # A folder's or a glob's files follow the code trees' link policy; a file named itself is read.
        root = None if is_remote(inp.path) or os.path.isfile(inp.path) else os.path.realpath(base)
        for f in files:
            fmt = inp.format if inp.format != "auto" else ("code" if inp.kind == "code" else detect_format(f))
            task = FileTask(f, _rel(f, base), fmt or "unknown", inp.source, inp.kind, inp.text_field, inp.id_field,
                            storage=storage)
            skip = (root and _link_policy(f, base, root)) or (("special_file", _SPECIAL) if _special(f) else None)
            if skip:
                tasks.append(FileTask(**{**task.__dict__, "skip_code": skip[0], "skip_reason": skip[1]}))
                continue
            tasks.extend(_split(task, cfg))
    return [_named(t) for t in tasks]


def _link_policy(path: str, base: str, root: str) -> tuple[str, str] | None:
    """(skip code, reason) when `path`, listed under `base` (whose real path is `root`), is a
    symbolic link or is reached through one (a glob follows linked directories): nothing outside the
    input root is read, no link is followed. None for a plain file."""
    link = base
    for part in os.path.relpath(path, base).split(os.sep):
        link = os.path.join(link, part)
        if os.path.islink(link):
            break
    else:
        return None
    if link == path and os.path.isdir(path):
        return "symlink", "symbolic link to a directory: not followed (loops, escapes)"
    target = os.path.realpath(path)
    if os.path.commonpath([root, target]) != root:
        return "path_escapes_root", f"symbolic link pointing outside the input root: {target}"
    if not os.path.exists(path):
        return "symlink", "dangling or looping symbolic link: nothing to read"
    if link != path:
        return "symlink", f"reached through the symbolic link {_rel(link, base)} to a directory: not followed"
    return "symlink", "symbolic link: its target is ingested at its own path"


def _escaped(path: str) -> str:
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _named(task: FileTask) -> FileTask:
    """A path that is not UTF-8 cannot be stored in a table: its record shows the bytes escaped."""
    try:
        task.input_file.encode("utf-8")
        return task
    except UnicodeEncodeError:
        return FileTask(**{**task.__dict__, "input_file": _escaped(task.input_file), "uri": _escaped(task.uri),
                           "skip_code": "invalid_path", "skip_reason": "file name is not UTF-8: not read; rename it"})


def _split(task: FileTask, cfg: IngestConfig) -> Iterator[FileTask]:
    """Large uncompressed JSONL files become byte ranges read by several tasks."""
    if task.format != "jsonl" or compression_of(task.input_file):
        yield task
        return
    size = file_size(task.input_file, storage=task.storage)
    if size <= cfg.split_bytes:
        yield task
        return
    for start in range(0, size, cfg.split_bytes):
        yield FileTask(**{**task.__dict__, "start": start, "end": min(start + cfg.split_bytes, size)})


def _vendored(name: str) -> str:
    return f"vendored or tool directory {name!r} (ingest.vendored_dirs)"


def _lock_file(name: str) -> str:
    return f"generated lock file {name!r} (ingest.lock_files)"


def _remote_code_tree(inp: InputConfig, cfg: IngestConfig, storage: Storage) -> Iterator[FileTask]:
    """A source tree on an object store (no links there): the same vendored-folder and lock-file
    policy as `_code_tree`, a skipped row per vendored folder and per lock file."""
    base, files = _remote_base_and_files(inp.path, storage)
    vendored, locks, skipped = set(cfg.vendored_dirs), set(cfg.lock_files), set()

    def task(path: str, skip: str | None = None, why: str | None = None) -> FileTask:
        return FileTask(path, _rel(path, base), "code", inp.source, inp.kind, skip_code=skip, skip_reason=why,
                        storage=storage)

    for f in files:
        parts = _rel(f, base).split("/")
        hit = next((i for i, part in enumerate(parts[:-1]) if part in vendored), None)
        if hit is not None:
            folder = "/".join(parts[: hit + 1])
            if folder not in skipped:
                skipped.add(folder)
                yield task(f"{base}/{folder}", "vendored", _vendored(parts[hit]))
        elif parts[-1] in locks:
            yield task(f, "lock_file", _lock_file(parts[-1]))
        else:
            yield task(f)


def _code_tree(inp: InputConfig, cfg: IngestConfig) -> Iterator[FileTask]:
    """Walk a source tree without following symlinks; policy skips are decided here and recorded."""
    root = os.path.realpath(inp.path)
    vendored, locks = set(cfg.vendored_dirs), set(cfg.lock_files)

    def task(path: str, skip: str | None = None, why: str | None = None) -> FileTask:
        return FileTask(path, _rel(path, inp.path), "code", inp.source, inp.kind, skip_code=skip, skip_reason=why)

    for d, dirs, names in os.walk(inp.path, followlinks=False):
        dirs.sort()
        for name in list(dirs):
            full = os.path.join(d, name)
            if os.path.islink(full):
                dirs.remove(name)
                yield task(full, *_link_policy(full, inp.path, root))
            elif name in vendored:
                dirs.remove(name)
                yield task(full, "vendored", _vendored(name))
        for name in sorted(names):
            full = os.path.join(d, name)
            if os.path.islink(full):
                yield task(full, *_link_policy(full, inp.path, root))
            elif name in locks:
                yield task(full, "lock_file", _lock_file(name))
            elif _special(full):
                yield task(full, "special_file", _SPECIAL)
            else:
                yield task(full)
