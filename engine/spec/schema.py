"""The audience JSON Schema, generated from ``engine.spec.model``; ``python -m engine.spec.schema`` writes it.

The committed ``schemas/audience.v1.json`` is what ``engine validate`` checks files against and what
editors read; a test proves it equals what this module generates, so the model stays the only
declaration (how the model becomes a schema: ``engine.schemagen``).
"""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from engine import schemagen
from engine.spec.model import AudienceSpec

SCHEMA_FILE = "schemas/audience.v1.json"


def generate() -> dict[str, Any]:
    """The audience schema as generated from the model."""
    return schemagen.generate(AudienceSpec, "https://audience-engine/schemas/audience.v1.json")


@lru_cache(maxsize=None)
def audience_schema() -> dict[str, Any]:
    """The audience JSON Schema shipped in the package (the committed, generated file)."""
    return json.loads(resources.files("engine.spec").joinpath(SCHEMA_FILE).read_text("utf-8"))


def render() -> str:
    """The schema file's text, as committed."""
    return schemagen.render(generate())


def main() -> None:
    """Write the generated schema over the committed file (run after changing the model)."""
    target = Path(__file__).parent / SCHEMA_FILE
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
