"""Database commands: ``engine migrate`` and ``engine seed``."""

from __future__ import annotations

import click

from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli


@click.command()
@click.option("--dsn", default=None, help="State database DSN (default: ENGINE_STATE_DSN).")
@pass_cli
@handle_errors
def migrate(obj: CliContext, dsn: str | None) -> None:
    """Create or upgrade the engine's own tables (schema 'engine') on the state database.

    The database is created (from template0) when the server says it does not exist.
    Idempotent and safe to run from several processes at once (advisory lock).
    """
    from engine import api  # noqa: PLC0415  (heavy imports only when the command runs)

    settings = obj.settings(state_dsn=dsn)
    applied, version, created = api.migrate_state(settings)
    if obj.json_output:
        emit_json({"ok": True, "applied": applied, "version": version, "created_database": created})
    else:
        if created:
            click.echo("created the database (it did not exist)")
        click.echo(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none'}; schema at version {version}")


@click.command()
@click.option("--dsn", default=None, help="Target database (default: ENGINE_SOURCE_DSN). Development databases only.")
@click.option("--users", type=click.IntRange(min=1), default=10_000, show_default=True, help="Number of users.")
@click.option(
    "--seed",
    "seed_value",
    type=int,
    default=42,
    show_default=True,
    help="Random seed: the same seed, size and as-of give the same data.",
)
@click.option("--as-of", default=None, help="Anchor time (ISO 8601; default now). Activity is placed relative to it.")
@click.option(
    "--replace", is_flag=True, help="Drop and recreate the app tables even if they hold rows. Never use on production."
)
@click.option(
    "--plant-conversions",
    "plant",
    metavar="AUTOMATION",
    default=None,
    help="Instead of seeding: add conversion rows for AUTOMATION's live sends (from the ledger) so its holdout "
    "converts at --base-rate and its treated users at --base-rate + --uplift, plus decoys outside the windows.",
)
@click.option("--uplift", type=float, default=0.05, show_default=True, help="--plant-conversions: the planted uplift.")
@click.option(
    "--base-rate", type=float, default=0.10, show_default=True, help="--plant-conversions: the holdout's rate."
)
@click.option(
    "--conversion",
    default=None,
    help="--plant-conversions: which declared conversion to plant (default: the automation's first).",
)
@pass_cli
@handle_errors
def seed(
    obj: CliContext,
    dsn: str | None,
    users: int,
    seed_value: int,
    as_of: str | None,
    replace: bool,
    plant: str | None,
    uplift: float,
    base_rate: float,
    conversion: str | None,
) -> None:
    """Create the app schema in a database and fill it with synthetic Tradeblock-shaped data.

    The database is created (from template0) when the server says it does not exist. The
    test users (default: the founder) get an account and a device token, so TEST sends reach
    them. Refuses a database whose app tables already hold rows unless --replace is given.

    With --plant-conversions AUTOMATION it seeds nothing: it reads the automation's live sends
    from the state database and adds the app rows of a known effect (`engine impact` measures it).
    """
    from engine import api  # noqa: PLC0415  (heavy imports only when the command runs)
    from engine.timeutil import parse_as_of  # noqa: PLC0415

    settings = obj.settings(source_dsn=dsn)
    if plant:
        from engine.experiments.planting import plant_conversions  # noqa: PLC0415

        planted = plant_conversions(settings, plant, uplift=uplift, base_rate=base_rate, conversion=conversion)
        if obj.json_output:
            emit_json({"ok": True, **planted.as_dict()})
        else:
            click.echo(
                f"planted {planted.conversion} for {planted.automation_id} ({planted.sends} live send(s)): "
                f"treated {planted.treated_converted:,}/{planted.treated:,}, "
                f"held out {planted.held_out_converted:,}/{planted.held_out:,}, "
                f"{planted.decoys:,} decoy row(s) outside the windows; {planted.rows:,} app row(s) written"
            )
        return
    anchor = parse_as_of(as_of)
    report = api.seed_app_database(settings, users=users, seed=seed_value, as_of=anchor, replace=replace)
    if obj.json_output:
        emit_json({"ok": True, **report})
    else:
        if report["created_database"]:
            click.echo("created the database (it did not exist)")
        click.echo(
            f"seeded {users:,} users in {report['seconds']:.1f}s "
            f"(seed={seed_value}, as_of={anchor.isoformat()}); "
            f"{report['test_users']} test user(s) with a device"
        )
        for table, count in report["counts"].items():
            click.echo(f"  {table:24} {count:>12,}")


COMMANDS = [migrate, seed]
