"""A baseline in the style of the original generators (reference section 2), one module per script.

Each ``generate(ctx)`` computes the same audience as the engine's YAML of the same name,
the way the original scripts did (a connection per query, dict rows, Python loops,
csv.DictWriter), so that the benchmark can compare time, memory and outputs.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.oldway import layer2, layer3, showcase, waterfall
from benchmarks.oldway.runtime import Context, Written

GENERATORS: dict[str, Callable[[Context], list[Written]]] = {
    "layer2_trending_closet": layer2.generate,
    "layer3_recent_activity": layer3.generate,
    "showcase": showcase.generate,
    "layer5_new_user_waterfall": waterfall.generate,
}
