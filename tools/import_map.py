"""Print which of the app's packages imports which (direct imports, lazy ones included; those
for type hints alone left out, as the contracts leave them out).

A map for reading the layers at a glance; the rules themselves are the import-linter
contracts in pyproject.toml. Run from the repository root: python tools/import_map.py
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import grimp

PARTS = ["app.ui", "app.workers", "app.cli", "app.library", "app.curation", "app.storage",
         "app.core", "app.config", "app.errors", "app.logsetup", "app.__main__"]
EXTERNAL = ["PySide6", "shiboken6", "torch", "transformers", "sqlalchemy"]


def part_of(module: str) -> str | None:
    for part in PARTS + EXTERNAL:
        if module == part or module.startswith(part + "."):
            return part
    return None


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    graph = grimp.build_graph("app", include_external_packages=True, exclude_type_checking_imports=True,
                               cache_dir=None)
    edges: dict[str, set[str]] = defaultdict(set)
    for importer in graph.modules:
        source = part_of(importer)
        if source is None or source in EXTERNAL:
            continue
        for imported in graph.find_modules_directly_imported_by(importer):
            target = part_of(imported)
            if target and target != source:
                edges[source].add(target)
    for part in PARTS:
        if part in graph.modules or any(m.startswith(part + ".") for m in graph.modules):
            inside = sorted(t for t in edges[part] if t not in EXTERNAL)
            outside = sorted(t for t in edges[part] if t in EXTERNAL)
            print(f"{part:14} -> {', '.join(inside) or '-'}" + (f"   [{', '.join(outside)}]" if outside else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
