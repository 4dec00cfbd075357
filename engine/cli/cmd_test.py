"""``engine test``: the audiences' YAML test cases (audiences/<name>.tests.yaml)."""

from __future__ import annotations

import logging
import sys

import click

from engine.cli.common import CliContext, emit_json, handle_errors, pass_cli


@click.command(name="test")
@click.option(
    "--select",
    "-s",
    "selectors",
    multiple=True,
    help="Audience name, layer:N or tag:T; repeatable. Default: every audience with test cases.",
)
@click.option(
    "--server",
    default=None,
    help="PostgreSQL server where a throwaway database is created and dropped "
    "(default ENGINE_TEST_DSN, else postgresql://postgres@127.0.0.1:5432/postgres).",
)
@pass_cli
@handle_errors
def test(obj: CliContext, selectors: tuple[str, ...], server: str | None) -> None:
    """Run the audiences' test cases: fixture rows in, expected output rows out.

    Each case in audiences/<audience>.tests.yaml names an as_of, params, a few rows per app
    table (the other columns take defaults) and the rows each output must hold. The cases run
    through the real pipeline against a throwaway database built from template0 with the app
    schema, dropped afterwards. A failing case prints its file:line and a diff of the rows.
    Exit 0 when every case passed, 1 when any failed or a test file is invalid (a located error),
    3 when the server cannot be reached.
    """
    from engine import api  # noqa: PLC0415  (heavy imports only when the command runs)

    if not obj.verbose:  # per-query log lines would bury the PASS/FAIL lines; -v shows them
        logging.getLogger("engine").setLevel(logging.WARNING)
    settings = obj.settings(test_dsn=server)

    def report(result) -> None:
        if obj.json_output:
            return
        mark = click.style("PASS", fg="green") if result.ok else click.style("FAIL", fg="red", bold=True)
        click.echo(f"{mark} {result.case.location} {result.case.title} ({result.seconds:.2f}s)")
        for problem in result.problems:
            click.echo("  " + problem.replace("\n", "\n  "))

    results = api.test(settings, selectors, on_result=report)
    failed = [r for r in results if not r.ok]
    if obj.json_output:
        emit_json(
            {
                "ok": not failed,
                "passed": len(results) - len(failed),
                "failed": len(failed),
                "cases": [r.as_dict() for r in results],
            }
        )
    elif not results:
        click.echo("no test cases (add audiences/<audience>.tests.yaml)")
    else:
        click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        sys.exit(1)


COMMANDS = [test]
