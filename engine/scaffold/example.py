"""The example project, shipped inside the package: the repository's own example files, not a copy of them.

The repository's root holds the example project that its tests, benchmarks and ``engine demo`` use;
``example/`` beside this module holds relative symbolic links to it (``sql -> ../../../sql``, ...).
In the checkout they read through to the root; building the wheel follows them, so the installed
package carries real files and an installed engine can run the demo and start new projects without a
checkout. There is one copy of each file, so nothing can drift.
"""

from __future__ import annotations

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


def copy_example(dest: Path) -> Path:
    """Write the packaged example project into ``dest`` (created if missing) and return it."""
    for name, content in example_files(EXAMPLE_DIR).items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(content)
    return dest
