"""A process and its descendants, read from Linux /proc (for the benchmarks' CPU and memory probes)."""

from __future__ import annotations

import os


def process_tree(pid: int) -> dict[int, tuple[str, list[str]]]:
    """{pid: (command name, the /proc/<pid>/stat fields after the name)} of `pid` and its descendants.
    In those fields, [1] is the parent pid, [11:15] utime stime cutime cstime, [21] RSS in pages."""
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[str, list[str]]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 1 :].split()
        stats[int(d)] = (name, rest)
        children.setdefault(int(rest[1]), []).append(int(d))
    tree, todo = {}, [pid]
    while todo:
        p = todo.pop()
        if p in stats:
            tree[p] = stats[p]
        todo.extend(children.get(p, []))
    return tree
