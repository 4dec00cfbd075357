"""The run manifest and run result: typed, frozen, and the only code that knows manifest.json's keys.

``manifest.json`` is a contract read by people, by ``engine send`` and by the state
database, so its key names and order never change; every reader goes through
``Manifest.from_json`` / ``read_manifest`` and gets typed fields back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from engine.errors import EngineError, SourceLocation

if TYPE_CHECKING:
    from engine.render.model import RenderedQuery

MANIFEST = "manifest.json"


class RunStatus(StrEnum):
    """How an audience run ended (``running`` only while it is recorded as started)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    EMPTY = "empty"
    PARTIAL = "partial"
    FAILED = "failed"
    ABANDONED = "abandoned"  # the process running it died before it could finish (state database only)

    @property
    def ok(self) -> bool:
        """Whether the run counts as a success for exit codes (an empty audience is not a failure)."""
        return self in (RunStatus.SUCCEEDED, RunStatus.EMPTY)


class OutputStatus(StrEnum):
    """What happened to one output file."""

    WRITTEN = "written"
    EMPTY_NOT_WRITTEN = "empty_not_written"
    FAILED = "failed"


class ManifestError(EngineError):
    """A manifest.json cannot be read (missing, not JSON, not the expected shape)."""


@dataclass(frozen=True)
class StepRecord:
    """One DuckDB step of the funnel: rows kept, time taken, and why rows left."""

    step: str
    rows: int
    seconds: float
    removed: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step, "rows": self.rows, "seconds": round(self.seconds, 4)}
        if self.removed:
            out["removed"] = dict(self.removed)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepRecord:
        return cls(
            step=str(data["step"]),
            rows=int(data["rows"]),
            seconds=float(data["seconds"]),
            removed={str(k): int(v) for k, v in (data.get("removed") or {}).items()},
        )


@dataclass(frozen=True)
class OutputRecord:
    """One written (or skipped, or failed) file of a run; ``is_test`` marks the TEST twin."""

    name: str
    file: str
    is_test: bool
    status: OutputStatus
    rows: int = 0
    sha256: str | None = None
    error: str | None = None
    segment: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name}{' (test)' if self.is_test else ''}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "is_test": self.is_test,
            "rows": self.rows,
            "sha256": self.sha256,
            "status": self.status.value,
            "error": self.error,
            "segment": self.segment,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OutputRecord:
        return cls(
            name=str(data["name"]),
            file=str(data["file"]),
            is_test=bool(data.get("is_test")),
            status=OutputStatus(data["status"]),
            rows=int(data.get("rows") or 0),
            sha256=data.get("sha256"),
            error=data.get("error"),
            segment=data.get("segment"),
        )


def json_ready(value: Any) -> Any:
    """Values as manifest.json stores them (DuckDB metrics may be Decimal, date, ...: written as text)."""
    return json.loads(json.dumps(value, default=str))


def manifest_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Resolved params as the manifest records them (datetimes as ISO 8601)."""
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in params.items()}


@dataclass(frozen=True)
class Manifest:
    """What manifest.json holds for one audience run."""

    run_id: str
    audience: str
    layer: int | None
    as_of: str
    params: Mapping[str, Any]
    status: RunStatus
    outputs: tuple[OutputRecord, ...] = ()
    steps: tuple[StepRecord, ...] = ()
    segments: Mapping[str, int] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    spec: str | None = None
    dry_run: bool = False
    seconds: float | None = None

    def output(self, name: str, *, test: bool) -> OutputRecord | None:
        """The output (or its TEST twin) named ``name``, if the run has one."""
        return next((o for o in self.outputs if o.name == name and o.is_test == test), None)

    @property
    def production_outputs(self) -> tuple[OutputRecord, ...]:
        return tuple(o for o in self.outputs if not o.is_test)

    def to_json(self) -> dict[str, Any]:
        """The manifest.json document (key names and order are the contract)."""
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "audience": self.audience,
            "layer": self.layer,
            "as_of": self.as_of,
            "params": json_ready(dict(self.params)),
            "status": self.status.value,
            "outputs": [o.to_json() for o in self.outputs],
            "steps": [s.to_json() for s in self.steps],
            "segments": dict(self.segments),
            "metrics": json_ready(dict(self.metrics)),
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "spec": self.spec,
            "dry_run": self.dry_run,
        }
        if self.seconds is not None:
            out["seconds"] = self.seconds
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        """Read a manifest.json document; optional keys absent from older manifests get defaults."""
        return cls(
            run_id=str(data["run_id"]),
            audience=str(data["audience"]),
            layer=data.get("layer"),
            as_of=str(data["as_of"]),
            params=dict(data.get("params") or {}),
            status=RunStatus(data["status"]),
            outputs=tuple(OutputRecord.from_json(o) for o in data.get("outputs") or ()),
            steps=tuple(StepRecord.from_json(s) for s in data.get("steps") or ()),
            segments=dict(data.get("segments") or {}),
            metrics=dict(data.get("metrics") or {}),
            errors=tuple(data.get("errors") or ()),
            warnings=tuple(data.get("warnings") or ()),
            spec=data.get("spec"),
            dry_run=bool(data.get("dry_run", False)),
            seconds=data.get("seconds"),
        )

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), indent=2).encode()


def read_manifest(run_dir: Path) -> Manifest:
    """The manifest of a run folder; a missing, non-JSON or malformed one is a located error."""
    path = run_dir / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(
            f"{run_dir} is not a run folder (no {MANIFEST})",
            hint="pass a run folder written by `engine run`, or a CSV file",
        ) from None
    except (ValueError, OSError) as err:
        raise ManifestError(f"{path} is not valid JSON: {err}") from None
    try:
        return Manifest.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ManifestError(
            f"{path} is not a run manifest: {type(err).__name__} {err}", location=SourceLocation(str(path))
        ) from None


@dataclass(frozen=True)
class RunResult:
    """What one audience run produced: its manifest, its folder (None for a dry run), previews, SQL."""

    manifest: Manifest
    run_dir: Path | None
    previews: Mapping[str, tuple[list[str], list[tuple[str, ...]]]] = field(default_factory=dict)
    rendered: tuple[RenderedQuery, ...] = ()

    @property
    def run_id(self) -> str:
        return self.manifest.run_id

    @property
    def audience(self) -> str:
        return self.manifest.audience

    @property
    def status(self) -> RunStatus:
        return self.manifest.status

    @property
    def ok(self) -> bool:
        return self.status.ok
