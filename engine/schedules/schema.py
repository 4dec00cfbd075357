"""The schedules.yaml JSON Schema, generated from ``engine.schedules.model``; ``python -m engine.schedules.schema``
writes it.

The committed ``schema.json`` is what ``engine validate`` checks the file against and what editors
read; a test proves it equals what this module generates (how a model becomes a schema:
``engine.schemagen``). Durations are shown as the file writes them (``30m``, not ``PT30M``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from engine import schemagen
from engine.documents import packaged_schema
from engine.schedules.durations import format_duration
from engine.schedules.model import ScheduleFile

SCHEMA_FILE = "schema.json"


class _Generator(schemagen.TidyGenerator):
    def encode_default(self, dft: Any) -> Any:
        return format_duration(dft) if isinstance(dft, timedelta) else super().encode_default(dft)


def generate() -> dict[str, Any]:
    """The schedules.yaml schema as generated from the model."""
    return {
        **schemagen.generate(ScheduleFile, "https://audience-engine/schemas/schedules.v1.json", generator=_Generator),
        "title": "schedules.yaml: push templates and automations",
    }


def schedules_schema() -> dict[str, Any]:
    """The schedules.yaml JSON Schema shipped in the package (the committed, generated file)."""
    return packaged_schema("engine.schedules", SCHEMA_FILE)


def render() -> str:
    """The schema file's text, as committed."""
    return schemagen.render(generate())


def main() -> None:
    """Write the generated schema over the committed file (run after changing the model)."""
    schemagen.write_committed(Path(__file__).parent / SCHEMA_FILE, generate())


if __name__ == "__main__":
    main()
