"""The pushes of a run, as its report shows them: each schedules.yaml template that sends one of the run's
written outputs, previewed on that file (engine.push.preview, the same samples ``engine send --dry-run`` shows)."""

from __future__ import annotations

import logging
from pathlib import Path

from engine.config import Settings
from engine.delivery.recipients import read_recipients
from engine.errors import EngineError
from engine.push.preview import DEFAULT_SAMPLES, PushPreview, preview
from engine.runs.model import Manifest, OutputStatus
from engine.schedules.loader import load_schedules

log = logging.getLogger("engine.report")


def push_previews(settings: Settings, run_dir: Path, manifest: Manifest) -> tuple[PushPreview, ...]:
    """One preview per template of this audience whose output the run wrote (none without schedules.yaml)."""
    try:
        templates = load_schedules(settings.project_dir).templates
    except EngineError as err:  # a report shows the run even when schedules.yaml is broken
        log.warning("report without push samples: %s", err.message, extra={"run_id": manifest.run_id})
        return ()
    written = {o.name: run_dir / o.file for o in manifest.production_outputs if o.status == OutputStatus.WRITTEN}
    previews = []
    for template in sorted(templates.values(), key=lambda t: t.name or ""):
        path = written.get(template.output or "")
        if template.audience != manifest.audience or path is None or not path.exists():
            continue
        try:
            recipients = read_recipients(path)
        except EngineError as err:  # e.g. no user id column: the send would refuse it; the report goes on
            log.warning(
                "report without samples of %s: %s", template.name, err.message, extra={"run_id": manifest.run_id}
            )
            continue
        previews.append(
            preview(
                template,
                recipients.rows,
                header=recipients.header,
                samples=DEFAULT_SAMPLES,
                pii=settings.report_pii_columns,
                allowed_hosts=settings.deep_link_hosts,
            )
        )
    return tuple(previews)
