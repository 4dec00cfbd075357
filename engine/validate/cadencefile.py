"""cadence.yaml through the cadence package's own loader, each problem as a located finding.

The layers it configures are what push templates and audiences may name; without a valid
file the packaged defaults (the original service's layers 1-5) are used for those checks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from engine.cadence.rules import CADENCE_FILE, CadenceConfig, cadence_config, cadence_schema, default_cadence_config
from engine.documents import load, schema_problems
from engine.errors import ConfigError
from engine.validate.audiences import AudienceEntry
from engine.validate.findings import Findings

_LISTED = re.compile(r"^\s*(?P<file>[^:\n]+):(?P<line>\d+)(?::(?P<col>\d+))?: (?P<message>.+)$")


def _add(findings: Findings, err: ConfigError, rule: str) -> None:
    lines = err.message.splitlines()
    if len(lines) > 1 and lines[0].endswith("problems:"):  # raise_all's combined error: one per line
        for text in lines[1:]:
            match = _LISTED.match(text)
            if match:
                findings.add(
                    rule,
                    match["message"],
                    path=match["file"],
                    line=int(match["line"]),
                    col=int(match["col"]) if match["col"] else None,
                )
            else:
                findings.add(rule, text.strip(), path=CADENCE_FILE)
        return
    findings.add_error(err, rule, default_path=CADENCE_FILE)


def check_cadence(findings: Findings, project_dir: Path) -> CadenceConfig:
    """Report cadence.yaml's problems; return its config (the defaults when it is absent or invalid)."""
    path = project_dir / CADENCE_FILE
    if not path.exists():
        return default_cadence_config()
    try:
        doc = load(path, CADENCE_FILE, error=ConfigError)
    except ConfigError as err:
        _add(findings, err, "cadence/syntax")
        return default_cadence_config()
    problems = schema_problems(doc, cadence_schema(), error=ConfigError, at_value=True)
    for problem in problems:
        _add(findings, problem, "cadence/schema")
    if problems:
        return default_cadence_config()
    try:
        return cadence_config(doc)
    except ConfigError as err:
        _add(findings, err, "cadence/rules")
        return default_cadence_config()


def check_audience_layers(findings: Findings, entries: Sequence[AudienceEntry], config: CadenceConfig) -> None:
    """Every audience's ``layer`` must be a layer cadence knows (its pushes are counted under it)."""
    known = {layer.id for layer in config.layers}
    for entry in entries:
        if entry.spec is None or entry.doc is None or entry.spec.layer in known:
            continue
        loc = entry.doc.locate(("layer",))
        findings.add(
            "cadence/unknown-layer",
            f"layer {entry.spec.layer} is not configured in {CADENCE_FILE}",
            path=loc.file,
            line=loc.line,
            col=loc.col,
            hint="layers: " + ", ".join(f"{x.id} ({x.name})" for x in config.layers),
        )
