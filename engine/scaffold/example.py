"""The example project, shipped inside the package: a generated copy of the repository's own example files.

The repository's root holds the example project that its tests, benchmarks and ``engine demo`` use;
``example/`` beside this module is the same files as package data, so an installed engine can run
the demo and start new projects without a checkout. ``python -m engine.scaffold.example`` (from the
checkout's root) rewrites the copy; a test fails while the two differ, so there is no copy to drift.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

EXAMPLE_DIR = Path(__file__).with_name("example")
# what makes up the example project, relative to its root (a folder stands for every file under it)
EXAMPLE_PATHS = ("audiences", "sql", "catalog", "schedules.yaml", "cadence.yaml", ".sqlfluff")
_SKIPPED = {"__pycache__", ".DS_Store"}


def example_files(root: Path) -> dict[str, bytes]:
    """The example project's files under ``root``, by POSIX path relative to it."""
    files: dict[str, bytes] = {}
    for name in EXAMPLE_PATHS:
        top = root / name
        for path in sorted(top.rglob("*")) if top.is_dir() else [top]:
            if path.is_file() and not _SKIPPED & set(path.relative_to(root).parts):
                files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files


def differences(checkout: Path, packaged: Path = EXAMPLE_DIR) -> list[str]:
    """Files that differ between the checkout's example project and the packaged copy (empty when in sync)."""
    ours, theirs = example_files(checkout), example_files(packaged)
    return sorted(name for name in ours.keys() | theirs.keys() if ours.get(name) != theirs.get(name))


def sync(checkout: Path, packaged: Path = EXAMPLE_DIR) -> list[str]:
    """Make the packaged copy equal the checkout's example project; return the files changed."""
    changed = differences(checkout, packaged)
    if packaged.exists():
        shutil.rmtree(packaged)
    for name, content in example_files(checkout).items():
        (packaged / name).parent.mkdir(parents=True, exist_ok=True)
        (packaged / name).write_bytes(content)
    return changed


def copy_example(dest: Path) -> Path:
    """Write the packaged example project into ``dest`` (created if missing) and return it."""
    for name, content in example_files(EXAMPLE_DIR).items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(content)
    return dest


if __name__ == "__main__":  # python -m engine.scaffold.example [CHECKOUT]: refresh the packaged copy
    changed = sync(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve())
    print(f"{len(changed)} file(s) changed in {EXAMPLE_DIR}: {', '.join(changed) or 'none'}")
