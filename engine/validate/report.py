"""Text form of a ValidationReport: ``path:line:col: severity: message [rule]``, source line, caret, hint."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from engine.schedules.marks import source_lines
from engine.validate.findings import Finding, ValidationReport

Style = Callable[..., str]


def _plain(text: str, **_: object) -> str:
    return text


def _excerpt(project_dir: Path, finding: Finding, style: Style) -> list[str]:
    if finding.line is None:
        return []
    lines = source_lines(project_dir / finding.path)
    if not 0 < finding.line <= len(lines):
        return []
    text = lines[finding.line - 1]
    gutter = f"{finding.line:>5} | "
    out = [gutter + text]
    if finding.col is not None:
        lead = "".join("\t" if ch == "\t" else " " for ch in text[: max(finding.col - 1, 0)])
        out.append(
            " " * (len(gutter) - 2)
            + "| "
            + lead
            + style("^", fg="red" if finding.severity == "error" else "yellow", bold=True)
        )
    return out


def format_finding(project_dir: Path, finding: Finding, style: Style = _plain) -> str:
    """One finding as it is printed: location line, excerpt with caret, hint."""
    where = ":".join([finding.path] + [str(x) for x in (finding.line, finding.col) if x is not None])
    colour = "red" if finding.severity == "error" else "yellow"
    lines = [
        f"{style(where, bold=True)}: {style(finding.severity, fg=colour, bold=True)}: "
        f"{finding.message} [{finding.rule}]"
    ]
    lines.extend(_excerpt(project_dir, finding, style))
    if finding.hint:
        lines.append(f"  hint: {finding.hint}")
    return "\n".join(lines)


def summary(report: ValidationReport) -> str:
    """The closing line: counts, files and time."""

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    found = (
        "no problems"
        if not report.findings
        else f"{plural(report.errors, 'error')}, {plural(report.warnings, 'warning')}"
    )
    return f"{found} in {plural(report.files, 'file')} ({report.seconds:.2f} s)"


def format_report(project_dir: Path, report: ValidationReport, style: Style = _plain) -> str:
    """The whole report: every finding, a blank line between them, then the summary."""
    blocks = [format_finding(project_dir, f, style) for f in report.findings]
    return "\n\n".join(blocks + [summary(report)])
