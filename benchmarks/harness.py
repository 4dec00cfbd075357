"""Measurement primitives: each measurement runs in its own child process.

The parent starts ``python -m benchmarks.harness <kind> '<json job>'``, waits for it with
``os.wait4`` and so gets the kernel's peak RSS of exactly that child (not of earlier ones).
The child times only the work itself with ``time.perf_counter`` (interpreter start-up and
imports are outside the figure but inside the wall time, reported apart) and prints one
JSON object. Kinds:

- ``engine``: ``engine.api.run`` of one audience, end to end (render, query, DuckDB, CSVs),
  with the per-query times from the pipeline's log records and the manifest's DuckDB steps;
  optionally saves the SQL it executed, with the bound values inlined, for ``floor``.
- ``floor``: those statements through ``psql``, each as ``COPY (...) TO STDOUT`` into
  /dev/null, timed by psql's ``\\timing`` (server work plus the transfer to a C client):
  what PostgreSQL must do anyway, the cost no client can avoid.
- ``old``: the baseline in the style of the original scripts (``benchmarks.oldway``).
- ``original``: the original generator scripts themselves, as shipped, from a checkout of their
  repository (``--originals``; never copied into this one): their SQL, Python loops and CSV
  writing, with psycopg2 and python-dotenv (the ``originals`` extra). Their SQL reads the clock
  with ``NOW()``; the session's ``search_path`` puts ``ORIGINAL_CLOCK_SCHEMA`` first, whose
  ``now()`` returns the benchmark's as-of, so their windows see the seeded data.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engine.scaffold.example import EXAMPLE_DIR

# where the benchmarks package is (children run ``python -m benchmarks.harness`` from here); the project measured is
# the example the engine ships (engine/scaffold/example, equal to the checkout's by a test), not the checkout
PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PROJECT = EXAMPLE_DIR


@dataclass(frozen=True)
class ChildRun:
    """What one child reported, plus what the kernel says about it."""

    payload: dict[str, Any]
    wall_seconds: float
    peak_rss_bytes: int

    @property
    def seconds(self) -> float:
        return float(self.payload["seconds"])


class BenchError(RuntimeError):
    """The benchmark cannot go on (a failed child, a database that is not ours, no data)."""


class ChildFailed(BenchError):
    """A measurement child exited non-zero; the message carries its stderr tail."""


def run_child(kind: str, job: dict[str, Any]) -> ChildRun:
    """Run one measurement in a fresh interpreter; return its report, wall time and peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.harness", kind, json.dumps(job, default=str)],
            stdout=out,
            stderr=err,
            cwd=PROJECT_ROOT,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            tail = err.read().decode(errors="replace").strip().splitlines()[-15:]
            raise ChildFailed(f"{kind} child failed (exit {proc.returncode}):\n" + "\n".join(tail))
        payload = json.loads(out.read().decode())
    return ChildRun(payload, wall, usage.ru_maxrss * 1024)  # ru_maxrss is in KiB on Linux


# ---- bench databases ------------------------------------------------------------------------

LABEL_PREFIX = "audience-engine benchmark:"


def seed_label(users: int, seed: int, as_of: datetime) -> str:
    """What a bench database's COMMENT says it holds; equal labels mean reusable data."""
    return f"{LABEL_PREFIX} users={users} seed={seed} as_of={as_of.isoformat()}"


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    dsn: str
    reused: bool
    seed_seconds: float


def prepare_database(
    admin_dsn: str, name: str, *, users: int, seed: int, as_of: datetime, reuse: bool
) -> BenchDatabase:
    """Create and seed ``name`` (dropping an older bench database), or reuse it when ``reuse`` and its label matches.

    A database of that name without a benchmark label is someone else's: it is never dropped.

    The seeded tables are vacuumed and analysed, the steady state autovacuum keeps a production
    database in, so that no measurement pays for hint bits or a background vacuum.
    """
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    from engine import api
    from engine.config import Settings

    label = seed_label(users, seed, as_of)
    dsn = make_conninfo(admin_dsn, dbname=name)
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        row = admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if row is not None:
            if not (row[0] or "").startswith(LABEL_PREFIX):
                raise BenchError(
                    f"database {name} exists and is not a benchmark database: not touching it "
                    "(choose another --db-prefix)"
                )
            if reuse and row[0] == label:
                return BenchDatabase(name, dsn, True, 0.0)
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:  # labelled first: a failed seed stays ours to drop
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(name), sql.Literal(f"{LABEL_PREFIX} seeding")
                )
            )
        report = api.seed_app_database(
            Settings(project_dir=EXAMPLE_PROJECT, source_dsn=dsn), users=users, seed=seed, as_of=as_of
        )
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
            conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(label)))
    except BaseException:
        drop_database(admin_dsn, name)
        raise
    return BenchDatabase(name, dsn, False, float(report["seconds"]))


def drop_database(admin_dsn: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def showcase_product(dsn: str, as_of: datetime) -> str:
    """The product with the most offers in the 7 days before ``as_of`` (the showcase's --var)."""
    import psycopg

    from engine.appdb.seed import most_offered_product

    with psycopg.connect(dsn) as conn:
        product = most_offered_product(conn, as_of=as_of)
    if product is None:
        raise BenchError("no offers in the 7 days before as_of: nothing to showcase")
    return str(product)


# ---- children -------------------------------------------------------------------------------


class _QueryTimes(logging.Handler):
    """Collects the pipeline's per-query log records (name, rows, seconds)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.queries: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "query done":  # the pipeline's extra fields live on the record
            fields = vars(record)
            self.queries.append({"name": fields["query"], "rows": fields["rows"], "seconds": fields["seconds"]})


def _engine(job: dict[str, Any]) -> dict[str, Any]:
    from engine import api
    from engine.config import Settings

    handler = _QueryTimes()
    logger = logging.getLogger("engine.pipeline")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    settings = Settings(project_dir=EXAMPLE_PROJECT, source_dsn=job["dsn"], output_dir=Path(job["out"]))
    as_of = datetime.fromisoformat(job["as_of"])
    started = time.perf_counter()
    result = api.run(settings, selectors=[job["audience"]], as_of=as_of, variables=job["vars"], record=False)[0]
    seconds = time.perf_counter() - started
    manifest = result.manifest
    if not result.ok:  # a failed run's time means nothing: stop the benchmark with the engine's errors
        raise BenchError(f"engine run {result.status}: {'; '.join(manifest.errors)}")
    if job.get("sql_out"):  # after the clock stops: the statements exactly as fetch_arrow sends them
        Path(job["sql_out"]).write_text(json.dumps(_statements(job["dsn"], result.rendered)))
    return {
        "seconds": seconds,
        "status": result.status.value,
        "manifest_seconds": manifest.seconds,
        "queries": handler.queries,
        "steps": [s.to_json() for s in manifest.steps],
        "errors": list(manifest.errors),
        "outputs": [
            {"name": o.name, "is_test": o.is_test, "rows": o.rows, "sha256": o.sha256, "status": o.status.value}
            for o in manifest.outputs
        ],
    }


def _statements(dsn: str, rendered: Any) -> list[dict[str, str]]:
    """Each query as the engine sends it (``bind``: the ``set_config`` call, ``sql``: the text inside COPY),
    and ``literal``: the same query with its values inlined as SQL literals (what binding is compared with)."""
    from psycopg import ClientCursor, connect

    from engine.sources.binding import bind_statement, server_bound

    out = []
    with connect(dsn) as conn:
        for q in rendered:
            bound = server_bound(q.sql, q.params)
            bind = ClientCursor(conn).mogrify(*bind_statement(bound)) if bound.settings else "SELECT 1"
            out.append(
                {
                    "name": q.name,
                    "bind": bind,
                    "sql": bound.sql,
                    "literal": ClientCursor(conn).mogrify(q.sql, q.params) if q.params else q.sql,
                }
            )
    return out


def _floor(job: dict[str, Any]) -> dict[str, Any]:
    """psql runs each statement as ``COPY (...) TO STDOUT`` into /dev/null and times it (``\\timing``).

    By default the engine's exact statements: inside one transaction, its ``set_config`` binding,
    then the COPY (only the COPY is timed). With ``literal``, the values inlined as literals instead.
    """
    statements = json.loads(Path(job["sql_file"]).read_text())
    literal = bool(job.get("literal"))
    lines = ["\\o /dev/null"]
    for s in statements:
        copy = ["\\timing on", f"COPY (\n{s['literal'] if literal else s['sql']}\n) TO STDOUT;", "\\timing off"]
        lines += copy if literal else ["BEGIN;", f"{s['bind']};", *copy, "COMMIT;"]
    script = "\n".join(lines) + "\n"
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as handle:
        handle.write(script)
        handle.flush()
        proc = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", job["dsn"], "-f", handle.name],
            capture_output=True,
            text=True,
            check=True,
        )
    times = [float(line.split()[1]) / 1000 for line in proc.stdout.splitlines() if line.startswith("Time: ")]
    if len(times) != len(statements):
        raise BenchError(f"psql reported {len(times)} timings for {len(statements)} statements: {proc.stdout}")
    queries = [{"name": s["name"], "seconds": t} for s, t in zip(statements, times)]
    return {"seconds": sum(times), "queries": queries}


def _old(job: dict[str, Any]) -> dict[str, Any]:
    from benchmarks.oldway import GENERATORS
    from benchmarks.oldway.runtime import Context

    ctx = Context(job["dsn"], datetime.fromisoformat(job["as_of"]), Path(job["out"]), job["vars"])
    started = time.perf_counter()
    written = GENERATORS[job["audience"]](ctx)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "outputs": [
            {"name": w.name, "is_test": w.is_test, "rows": w.rows, "sha256": w.sha256, "status": "written"}
            for w in written
        ],
    }


# the original generators (reference section 2), by the engine audience they correspond to
ORIGINAL_SCRIPTS = {
    "layer2_trending_closet": "generate_layer_2_push_csv.py",
    "layer3_recent_activity": "generate_layer_3_push_csvs.py",
    "showcase": "generate_showcase_push_csvs.py",
    "layer5_new_user_waterfall": "generate_new_user_waterfall.py",
}
ORIGINAL_SCRIPT_DIR = "projects/push-automation/audience-generation-scripts"
ORIGINAL_CLOCK_SCHEMA = "ae_bench_clock"


def install_original_clock(dsn: str, as_of: datetime) -> None:
    """``<ORIGINAL_CLOCK_SCHEMA>.now()`` returning ``as_of``, in the bench database, for the originals' ``NOW()``.

    Only sessions whose ``search_path`` names the schema before ``pg_catalog`` see it (the original
    child's); the engine, the floor and the old way keep PostgreSQL's ``now()`` and bind as-of themselves.
    """
    import psycopg
    from psycopg import sql

    schema = sql.Identifier(ORIGINAL_CLOCK_SCHEMA)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
        conn.execute(
            sql.SQL("CREATE OR REPLACE FUNCTION {}.now() RETURNS timestamptz LANGUAGE sql STABLE AS {}").format(
                schema, sql.Literal(f"SELECT {sql.Literal(as_of.isoformat()).as_string(conn)}::timestamptz")
            )
        )


def _original(job: dict[str, Any]) -> dict[str, Any]:
    """Run one original generator script in this process (``runpy``, as ``__main__``) and time it.

    Its imports (psycopg2, dotenv, the query toolbox) are loaded before the clock starts, as the
    engine child's are; the script's own module code (argument parsing, its debug shim) is timed.
    ``DATABASE_URL`` carries the bench database and the clock's ``search_path``; the working
    directory is a scratch folder (the scripts write ``tmp/_pydebug_*.log`` there). What they
    print goes to stderr: this child's stdout is its JSON report.
    """
    stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        return _original_run(job)
    finally:
        sys.stdout = stdout


def _original_run(job: dict[str, Any]) -> dict[str, Any]:
    import importlib
    import runpy

    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    repo = Path(job["originals"]).resolve()
    script = repo / ORIGINAL_SCRIPT_DIR / ORIGINAL_SCRIPTS[job["audience"]]
    options = (
        f"{conninfo_to_dict(job['dsn']).get('options') or ''} -c search_path={ORIGINAL_CLOCK_SCHEMA},pg_catalog,public"
    )
    os.environ["DATABASE_URL"] = make_conninfo(job["dsn"], options=options.strip())
    sys.path.insert(0, str(repo))
    importlib.import_module("basic_capabilities.internal_db_queries_toolbox.push_csv_queries")
    out = Path(job["out"])
    sys.argv = [str(script), "--output_dir", str(out / "csvs")]
    if job["audience"] == "showcase":
        sys.argv += ["--product_id", str(job["vars"]["product_id"])]
    os.chdir(out)
    exit_code = 0
    started = time.perf_counter()
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as done:  # the scripts exit 1 when their own validation fails (reference 2.1, 2.2)
        exit_code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    seconds = time.perf_counter() - started
    outputs = []
    for path in sorted((out / "csvs").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            rows = max(sum(1 for _ in handle) - 1, 0)
        outputs.append({"name": path.name, "is_test": "test" in path.name.lower(), "rows": rows})
    return {"seconds": seconds, "exit_code": exit_code, "outputs": outputs}


def _project(job: dict[str, Any]) -> dict[str, Any]:
    """Every audience in one ``engine.api.run`` (plain ``engine run``), ``width`` of them at a time."""
    from engine import api
    from engine.config import Settings

    settings = Settings(
        project_dir=EXAMPLE_PROJECT,
        source_dsn=job["dsn"],
        output_dir=Path(job["out"]),
        parallel_audiences=int(job["width"]),
    )
    started = time.perf_counter()
    results = api.run(settings, as_of=datetime.fromisoformat(job["as_of"]), variables=job["vars"], record=False)
    seconds = time.perf_counter() - started
    failed = [r.manifest.audience for r in results if not r.ok]
    if failed:
        raise BenchError(f"project run failed for {', '.join(failed)}")
    return {"seconds": seconds, "audiences": {r.manifest.audience: r.manifest.seconds for r in results}}


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "engine": _engine,
    "floor": _floor,
    "old": _old,
    "original": _original,
    "project": _project,
}


def main(argv: list[str]) -> None:
    kind, job = argv[0], json.loads(argv[1])
    sys.stdout.write(json.dumps(CHILDREN[kind](job), default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
