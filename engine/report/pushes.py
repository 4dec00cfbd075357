"""The pushes of a run, as its report shows them: each schedules.yaml template that sends one of the run's
written outputs, previewed on that file (engine.push.preview, the same samples ``engine send --dry-run`` shows).

The file is read by column, only the template's variables (``read_recipient_columns``: the rows ``engine send``
reads, without a dict per row), and a row is judged without rendering it: the report of a run with hundreds of
thousands of users stays a small part of the run."""

from __future__ import annotations

import logging
from pathlib import Path

from engine.config import Settings
from engine.delivery.recipients import RecipientColumns, read_recipient_columns
from engine.errors import EngineError
from engine.push.preview import DEFAULT_SAMPLES, PushPreview, preview_columns
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
    shown = []
    for template in sorted(templates.values(), key=lambda t: t.name or ""):
        path = written.get(template.output or "")
        if template.audience == manifest.audience and path is not None and path.exists():
            shown.append((template, path))
    needs: dict[Path, set[str]] = {}  # each file is read once, with the columns of every template sending it
    for template, path in shown:
        needs.setdefault(path, set()).update(template.variables())
    read: dict[Path, RecipientColumns | EngineError] = {}
    previews = []
    for template, path in shown:
        if path not in read:
            try:
                read[path] = read_recipient_columns(path, needs[path])
            except EngineError as err:
                read[path] = err
        recipients = read[path]
        if isinstance(recipients, EngineError):  # e.g. no user id column: the send would refuse it; the report goes on
            log.warning(
                "report without samples of %s: %s", template.name, recipients.message, extra={"run_id": manifest.run_id}
            )
            continue
        previews.append(
            preview_columns(
                template,
                recipients.user_ids,
                recipients.columns,
                header=recipients.header,
                samples=DEFAULT_SAMPLES,
                pii=settings.report_pii_columns,
                allowed_hosts=settings.deep_link_hosts,
            )
        )
    return tuple(previews)
