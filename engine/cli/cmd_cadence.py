"""Cadence commands: ``engine cadence check`` (who may be pushed now) and ``engine cadence rules``."""

from __future__ import annotations

from pathlib import Path

import click

from engine import api
from engine.api import CadenceConfig, CadenceDecision
from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli
from engine.timeutil import parse_as_of


@click.group()
def cadence() -> None:
    """Cadence: cooldowns and frequency caps that keep users from being over-messaged.

    Rules live in cadence.yaml at the project root (the original service's rules when the file
    is missing) and can be overridden per automation in schedules.yaml (`cadence:` mapping).
    With cadence_mode 'remote' (ENGINE_CADENCE_MODE) the original push-cadence-service at
    cadence_url decides instead.
    """


@cadence.command()
@click.option(
    "--layer", "layer_ref", required=True, help="Layer id or name, e.g. 3 or 'Layer 3' (see `engine cadence rules`)."
)
@click.option(
    "--as-of", default=None, help="Check as of this time (ISO 8601; default now). Only pushes sent up to it count."
)
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Read user ids from this CSV (column user_id, userId, id, ...) instead of arguments.",
)
@click.option("--automation", default=None, help="Apply this schedules.yaml automation's cadence overrides.")
@click.option("--dsn", default=None, help="State database DSN (default: ENGINE_STATE_DSN).")
@click.option("--explain", is_flag=True, help="List every excluded user with the rule and the last relevant push.")
@click.argument("user_ids", nargs=-1)
@pass_cli
@handle_errors
def check(
    obj: CliContext,
    layer_ref: str,
    as_of: str | None,
    csv_file: Path | None,
    automation: str | None,
    dsn: str | None,
    explain: bool,
    user_ids: tuple[str, ...],
) -> None:
    """Check which of USER_IDS (or the ids in --csv) may get a live push of --layer now.

    Prints how many are eligible and how many each rule excludes (the first rule that blocks a
    user, in cadence.yaml order); ids that are not UUIDs are listed apart. Reads only.
    """
    if bool(csv_file) == bool(user_ids):
        raise click.UsageError("give user ids as arguments or --csv FILE (exactly one of them)")
    settings = obj.settings(state_dsn=dsn)
    ids = api.read_user_ids(csv_file) if csv_file else list(user_ids)
    moment = parse_as_of(as_of)
    check = api.cadence_check(settings, ids, layer_ref, as_of=moment, automation=automation)
    layer, decision = check.layer, check.decision
    if obj.json_output:
        payload = {
            "ok": True,
            "layer_name": layer.name,
            "as_of": moment.isoformat(),
            "audience": len(ids),
            **decision.summary(),
            "eligible_ids": decision.eligible,
        }
        if explain:
            payload["explain"] = [
                {
                    "user_id": e.user_id,
                    "rule": e.rule,
                    "pushes_in_window": e.pushes_in_window,
                    "last_sent_at": e.last_sent_at.isoformat() if e.last_sent_at else None,
                }
                for e in decision.exclusions
            ]
        emit_json(payload)
        return
    _print_decision(decision, layer_label=f"{layer.id} ({layer.name})", as_of=moment.isoformat(), audience=len(ids))
    if explain:
        _print_explain(decision, check.config)


def _print_decision(decision: CadenceDecision, *, layer_label: str, as_of: str, audience: int) -> None:
    click.echo(f"layer {layer_label}, cadence {decision.mode}, as of {as_of}")
    click.echo(
        f"audience: {audience:,} ids ({len(decision.eligible) + decision.excluded_count:,} unique valid, "
        f"{len(decision.invalid_ids):,} not UUIDs)"
    )
    click.echo(f"eligible: {len(decision.eligible):,}")
    click.echo(f"excluded: {decision.excluded_count:,}")
    for rule, excluded in decision.excluded.items():
        click.echo(f"  {rule:32} {len(excluded):>10,}")
    for invalid in decision.invalid_ids:
        click.echo(f"invalid id: {invalid!r}")
    for warning in decision.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)


def _print_explain(decision: CadenceDecision, config: CadenceConfig) -> None:
    windows = {rule.name: rule.window_hours for rule in config.rules}
    for e in decision.exclusions:
        if e.last_sent_at is None:
            click.echo(f"{e.user_id}  {e.rule}  (the remote service does not say which rule or push)")
        else:
            click.echo(
                f"{e.user_id}  {e.rule}  {e.pushes_in_window} push(es) in the last {windows[e.rule]:g} h, "
                f"last at {e.last_sent_at.isoformat()}"
            )


@cadence.command()
@click.option("--automation", default=None, help="Show the rules with this automation's overrides applied.")
@pass_cli
@handle_errors
def rules(obj: CliContext, automation: str | None) -> None:
    """Show the layers and the cadence rules in force (validates cadence.yaml on the way)."""
    settings = obj.settings()
    config = api.cadence_rules(settings, automation)
    if obj.json_output:
        emit_json(
            {
                "ok": True,
                "source": config.source,
                "override": config.override,
                "layers": [vars(layer) for layer in config.layers],
                "rules": [vars(rule) for rule in config.rules],
            }
        )
        return
    click.echo(f"rules from {config.source}" + (f" with overrides from {config.override}" if config.override else ""))
    for layer in config.layers:
        gated = ", ".join(rule.name for rule in config.rules_for(layer)) or "-"
        click.echo(f"layer {layer.id:<3} {layer.name:12} {layer.cadence:7} rules: {gated}")
    for rule in config.rules:
        state = "" if rule.enabled else "  (disabled)"
        applies = "all" if rule.applies_to is None else ",".join(map(str, rule.applies_to))
        click.echo(
            f"{rule.name:28} max {rule.max_count} of layers {','.join(map(str, rule.counts_layers))} "
            f"per {rule.window_hours:g} h, applies to {applies}{state}"
        )


COMMANDS = [cadence]
