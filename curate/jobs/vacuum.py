"""`curate vacuum`: delete the files under a storage root that nothing current needs any more.

Three kinds, each once older than the retention (default: Delta's own, 168 hours):
- a table's superseded files: data files a later overwrite, merge or delete took out of the table
  (time travel to the versions before them needs them, the current version does not);
- a table's crash orphans: files a killed write left in the table's folder and no commit took;
- shard staging of mix runs that never published (`Shelf.unpublished`).
Every table under `<root>/tables/` is vacuumed, by the engine's own listing (`DeltaStore.vacuum`).
Published shard versions and the tables' current files are never touched. A dry run by default.

Nothing a run may be writing is touched: on a local root the command holds the run lock (no
curate run writes meanwhile); on an object store, where there is no lock, the retention is what
protects a run writing there, hence the refusal of one shorter than Delta's default unless
`--force-short-retention`.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass

from curate.delta.store import DEFAULT_RETENTION_HOURS, DeltaStore, check_retention
from curate.storage import Storage, delete_tree, join

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Garbage:
    """What one table or one mixture's shard shelf holds that a vacuum deletes: (URI, bytes) each."""

    place: str  # a table's name, or shards/<mixture>
    items: list[tuple[str, int]]

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.items)


def table_names(store: DeltaStore) -> list[str]:
    """The Delta tables under `<root>/tables/`, curate's and any other."""
    from pyarrow.fs import FileSelector, FileType

    fs, path = store.storage.filesystem(join(store.root, "tables"))
    folders = sorted(i.base_name for i in fs.get_file_info(FileSelector(path, allow_not_found=True))
                     if i.type == FileType.Directory)
    return [name for name in folders if store.exists(name)]


def _stale_staging(root: str, *, storage: Storage, retention_hours: int) -> list[tuple[str, list[tuple[str, int]]]]:
    """Per mixture, its unpublished version folders (URI, bytes) whose newest file is older than the
    retention (a run still writing one has just written a file)."""
    from pyarrow.fs import FileSelector

    from curate.tokenize.publish import Shelf

    fs, shards = storage.filesystem(join(root, "shards"))
    cutoff = time.time() - retention_hours * 3600
    found = []
    for mixture in sorted(i.base_name for i in fs.get_file_info(FileSelector(shards, allow_not_found=True))
                          if not i.is_file):
        shelf = Shelf(root, mixture, storage=storage)
        items = []
        for folder in shelf.unpublished():
            files = [i for i in fs.get_file_info(FileSelector(folder, recursive=True)) if i.is_file]
            if all(f.mtime.timestamp() <= cutoff for f in files):
                items.append((join(shelf.uri, folder.rsplit("/", 1)[1]), sum(f.size for f in files)))
        found.append((mixture, items))
    return found


def collect(store: DeltaStore, *, retention_hours: int, apply: bool) -> list[Garbage]:
    """Every table's and every mixture's garbage under the store's root; deleted when `apply`."""
    garbage = [Garbage(name, store.vacuum(name, retention_hours=retention_hours, dry_run=not apply,
                                          enforce_retention=False))
               for name in table_names(store)]
    fs = store.storage.filesystem(store.root)[0]
    for mixture, items in _stale_staging(store.root, storage=store.storage, retention_hours=retention_hours):
        if apply:
            for uri, _ in items:
                delete_tree(fs, store.storage.filesystem(uri)[1])
        garbage.append(Garbage(f"shards/{mixture}", items))
    return garbage


def reclaimable(store: DeltaStore) -> list[Garbage]:
    """What `curate vacuum --apply` would delete now, at the default retention (`curate status`)."""
    return collect(store, retention_hours=DEFAULT_RETENTION_HOURS, apply=False)


def print_vacuum(garbage: list[Garbage], *, root: str, retention_hours: int, apply: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    for g in garbage:
        for uri, size in g.items:
            print(f"{'deleted' if apply else 'would delete'} {uri} ({size:,} bytes)")
    console = Console(width=120)
    table = Table(title=f"vacuum of {root}, files older than {retention_hours} h"
                        f"{'' if apply else ' (dry run: pass --apply to delete)'}")
    for col in ("table / shards", "files", "bytes"):
        table.add_column(col, justify="left" if col == "table / shards" else "right")
    for g in garbage:
        table.add_row(g.place, f"{len(g.items):,}", f"{g.bytes:,}")
    table.add_row("total", f"{sum(len(g.items) for g in garbage):,}", f"{sum(g.bytes for g in garbage):,}")
    console.print(table)


def add_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--apply", action="store_true", help="delete the files listed (default: a dry run)")
    parser.add_argument("--retain-hours", type=int, default=DEFAULT_RETENTION_HOURS, metavar="H",
                        help=f"keep files younger than H hours (default: Delta's {DEFAULT_RETENTION_HOURS})")
    parser.add_argument("--force-short-retention", action="store_true",
                        help=f"allow --retain-hours below {DEFAULT_RETENTION_HOURS}: only when no run writes this root "
                        "and no reader needs older table versions")


def run_vacuum(args: argparse.Namespace) -> int:
    from curate.jobs.common import locked_context

    check_retention(args.retain_hours, enforce=not args.force_short_retention)
    with locked_context(args, command="vacuum") as ctx:
        garbage = collect(ctx.store, retention_hours=args.retain_hours, apply=args.apply)
    print_vacuum(garbage, root=ctx.cfg.root, retention_hours=args.retain_hours, apply=args.apply)
    return 0
