"""The audience JSON Schema, generated from ``engine.spec.model``; ``python -m engine.spec.schema`` writes it.

The committed ``schemas/audience.v1.json`` is what ``engine validate`` checks files against and what
editors read; a test proves it equals what this module generates, so the model stays the only
declaration (how the model becomes a schema: ``engine.schemagen``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine import schemagen
from engine.documents import packaged_schema
from engine.spec.model import AudienceSpec

SCHEMA_FILE = "schemas/audience.v1.json"


def generate() -> dict[str, Any]:
    """The audience schema as generated from the model."""
    return schemagen.generate(AudienceSpec, "https://audience-engine/schemas/audience.v1.json")


def audience_schema() -> dict[str, Any]:
    """The audience JSON Schema shipped in the package (the committed, generated file)."""
    return packaged_schema("engine.spec", SCHEMA_FILE)


def render() -> str:
    """The schema file's text, as committed."""
    return schemagen.render(generate())


def main() -> None:
    """Write the generated schema over the committed file (run after changing the model)."""
    schemagen.write_committed(Path(__file__).parent / SCHEMA_FILE, generate())


if __name__ == "__main__":
    main()
