"""Input safety: symbolic links in text folders and globs, bounds on WARC and Parquet inputs, I/O
errors that must fail the task instead of quarantining the file."""

from __future__ import annotations

import os

from curate.ingest.listing import list_tasks
from curate.ingest.readers import read_task
from curate.schemas.config import IngestConfig, InputConfig

CFG = IngestConfig()


def read_input(path, *, cfg: IngestConfig = CFG, **kw) -> dict[str, list]:
    inp = InputConfig(source="t", kind="text", path=str(path), **kw)
    return {t.uri: list(read_task(t, cfg)) for t in list_tasks([inp], cfg)}


def fates(recs: dict[str, list]) -> dict[str, tuple]:
    return {uri: tuple((r.fate, r.reason_code) for r in rs) for uri, rs in recs.items()}


def link_tree(tmp_path, paragraphs):
    """notes/ with real files, links within it, and links out of it to a file holding a planted secret."""
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = "AKIA-planted-outside-the-root " + paragraphs[0]
    (outside / "secret.txt").write_text(secret)
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "a.txt").write_text(paragraphs[1])
    (notes / "sub" / "b.txt").write_text(paragraphs[2])
    os.symlink(outside / "secret.txt", notes / "escape.txt")  # absolute, out of the root
    os.symlink("../../outside/secret.txt", notes / "sub" / "up.txt")  # relative, out of the root
    os.symlink("a.txt", notes / "alias.txt")
    os.symlink("missing.txt", notes / "dangling.txt")
    os.symlink(outside, notes / "out_dir")
    os.symlink("sub", notes / "in_dir")
    return notes, secret


def test_links_in_a_text_folder_follow_the_code_tree_policy(tmp_path, paragraphs):
    notes, secret = link_tree(tmp_path, paragraphs)
    recs = read_input(notes)
    assert fates(recs) == {
        "a.txt": (("doc", None),),
        "alias.txt": (("skipped", "symlink"),),
        "dangling.txt": (("skipped", "symlink"),),
        "escape.txt": (("skipped", "path_escapes_root"),),
        "in_dir": (("skipped", "symlink"),),
        "out_dir": (("skipped", "symlink"),),
        "sub/b.txt": (("doc", None),),
        "sub/up.txt": (("skipped", "path_escapes_root"),),
    }
    assert str(tmp_path / "outside" / "secret.txt") in recs["escape.txt"][0].reason
    assert not any(secret in (r.text or "") + (r.excerpt or "") for rs in recs.values() for r in rs)


def test_links_matched_by_a_glob_follow_the_code_tree_policy(tmp_path, paragraphs):
    """glob.glob follows linked directories: what it finds through them is recorded, never read."""
    notes, secret = link_tree(tmp_path, paragraphs)
    recs = read_input(f"{notes}/**/*.txt")
    assert fates(recs) == {
        "a.txt": (("doc", None),),
        "alias.txt": (("skipped", "symlink"),),
        "dangling.txt": (("skipped", "symlink"),),
        "escape.txt": (("skipped", "path_escapes_root"),),
        "in_dir/b.txt": (("skipped", "symlink"),),
        "in_dir/up.txt": (("skipped", "path_escapes_root"),),
        "out_dir/secret.txt": (("skipped", "path_escapes_root"),),
        "sub/b.txt": (("doc", None),),
        "sub/up.txt": (("skipped", "path_escapes_root"),),
    }
    assert "in_dir" in recs["in_dir/b.txt"][0].reason
    assert not any(secret in (r.text or "") + (r.excerpt or "") for rs in recs.values() for r in rs)


def test_a_file_named_as_the_input_is_read_even_through_a_link(tmp_path, paragraphs):
    notes, secret = link_tree(tmp_path, paragraphs)
    assert [r.text for r in read_input(notes / "escape.txt")["escape.txt"]] == [secret]
