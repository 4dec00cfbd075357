"""What ``engine diff`` compares: a run id or any folder of CSVs, its files named without their timestamp."""

from __future__ import annotations

import re
from pathlib import Path

from engine.errors import ConfigError
from engine.runs.model import MANIFEST, read_manifest

# 20261120_120000 (the engine's and the legacy scripts' stamp) or 2026-11-20[_12-00-00], with its separator
_STAMP = re.compile(r"[_-]?(\d{8}_\d{6}|\d{4}-\d{2}-\d{2}(?:[T_ ]\d{2}[-:]?\d{2}[-:]?\d{2})?)")


def stem(file_name: str) -> str:
    """``recent-wishlist-adders_TEST_20261120_120000.csv`` -> ``recent-wishlist-adders_TEST.csv``."""
    return _STAMP.sub("", file_name)


def find_run(ref: str, output_root: Path) -> Path:
    """A run folder under the output root whose manifest's run id starts with ``ref`` (8+ characters)."""
    if len(ref) < 8 or not re.fullmatch(r"[0-9a-fA-F-]+", ref):
        raise ConfigError(
            f"{ref!r} is neither a folder nor a run id",
            hint="give a run folder, a folder of CSVs, or a run id (8 characters or more)",
        )
    matches = [
        folder
        for folder in output_root.glob(f"*/*_{ref[:8].lower()}")
        if (folder / MANIFEST).is_file() and read_manifest(folder).run_id.startswith(ref.lower())
    ]
    if len(matches) != 1:
        found = "no run" if not matches else f"{len(matches)} runs"
        raise ConfigError(
            f"{found} with id {ref!r} under {output_root}",
            hint="pass the run folder itself, or --out / ENGINE_OUTPUT_DIR where the runs are",
        )
    return matches[0]


def resolve_side(ref: str, output_root: Path) -> Path:
    """A folder (run folder or any folder of CSVs) or a run id -> the folder."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ConfigError(f"{ref} is a file, not a folder", hint="give the folder that holds the CSVs")
    return find_run(ref, output_root)


def csv_files(folder: Path) -> dict[str, Path]:
    """The folder's CSV files by name without timestamp; two files with the same stem are a usage error."""
    out: dict[str, Path] = {}
    for path in sorted(folder.glob("*.csv")):
        name = stem(path.name)
        if name in out:
            raise ConfigError(
                f"{folder} holds two files named {name!r} once their timestamps are removed: "
                f"{out[name].name}, {path.name}",
                hint="compare one run's folder at a time",
            )
        out[name] = path
    return out
