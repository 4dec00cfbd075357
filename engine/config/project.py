"""Where the project is, and the one check that a folder is one: every command that reads it calls this."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from engine.errors import ConfigError

NOT_A_PROJECT_HINT = "run engine init or cd into a project (or pass --project-dir / ENGINE_PROJECT_DIR)"


def project_root(given: Path | None = None, *, env: Mapping[str, str] | None = None) -> Path:
    """The project folder: ``given`` (--project-dir), else ENGINE_PROJECT_DIR, else the current directory."""
    env = os.environ if env is None else env
    return Path(given or env.get("ENGINE_PROJECT_DIR") or Path.cwd())


def is_project(root: Path) -> bool:
    """A project is a folder holding ``audiences/``: the only thing every project has."""
    return (root / "audiences").is_dir()


def require_project(root: Path) -> None:
    """Raise a configuration error (exit 2) naming ``root`` when it is not a project: never a silent no-op."""
    if not is_project(root):
        raise ConfigError(
            f"{root.resolve()} is not an audience-engine project (no audiences/ folder)", hint=NOT_A_PROJECT_HINT
        )
