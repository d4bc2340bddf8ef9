"""The environment shipped to executors: `pip install curate` without extras brings every module curate
imports, and not mosaicml-streaming with torch (the `verify` extra, imported by `curate verify` alone)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata

from packaging.requirements import Requirement

from curate.package import PACKAGE_DIR

PYPROJECT = tomllib.loads((PACKAGE_DIR.parent / "pyproject.toml").read_text())["project"]
# Modules of optional extras, each imported lazily by one module only, with an install hint; and the
# native signal kernels, built from native/ (`pip install ./native`, by scripts/setup.sh), which one
# module imports with the Python functions as the fallback.
OPTIONAL = {"streaming": {"tokenize/verify.py"}, "mlflow": {"tracking.py"}, "curate_kernels": {"quality/native.py"}}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(requirements: list[str]) -> set[str]:
    """Distributions pip installs for `requirements` without extras, as resolved in this environment."""
    seen, todo = set(), [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = norm(req.name)
        if name in seen:
            continue
        seen.add(name)
        todo += [Requirement(r) for r in metadata.requires(req.name) or []]
    return seen


def third_party_imports() -> dict[str, set[str]]:
    """Top-level module -> the curate files (relative to the package) that import it, lazy imports included."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in {n.split(".")[0] for n in names} - set(sys.stdlib_module_names) - {"curate"}:
                found.setdefault(top, set()).add(path.relative_to(PACKAGE_DIR).as_posix())
    return found


def test_streaming_and_torch_are_not_default_dependencies():
    default = closure(PYPROJECT["dependencies"])
    assert not {"mosaicml-streaming", "torch", "torchvision", "transformers", "triton"} & default
    assert "mosaicml-streaming" in closure(PYPROJECT["optional-dependencies"]["verify"])
    assert "curate[verify]" in PYPROJECT["optional-dependencies"]["test"]  # scripts/setup.sh installs .[test]


def test_every_module_curate_imports_comes_with_the_default_install():
    default = closure(PYPROJECT["dependencies"])
    providers = metadata.packages_distributions()
    imports = third_party_imports()
    assert {"zstd", "brotli", "snappy", "streaming"} <= set(imports)  # the MDS codecs; verify's reader
    for module, files in sorted(imports.items()):
        if module in OPTIONAL:
            assert files == OPTIONAL[module], f"{module} is an optional extra's, imported by {sorted(files)}"
        else:
            dists = {norm(d) for d in providers.get(module, [])}
            assert dists & default, f"{module} (from {sorted(files)}) is not installed by the default dependencies"
