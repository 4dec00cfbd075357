"""PostgreSQL connections: pools for the source (read-only) and plain connections for state.

Every connection gets a statement timeout; the source pool opens each session with
``default_transaction_read_only = on`` so an audience can never write to the app
database. Connection failures are retried with full-jitter exponential backoff (tenacity), then reported
as ``DatabaseUnavailable`` naming the server (never the password). Opening the source checks
what its role may do: a role that can write or reach server files is refused by ``engine
scheduler`` and live sends (unless ENGINE_ALLOW_PRIVILEGED_SOURCE=1) and warned about once
per process by every other command.
"""

from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from enum import Enum
from typing import Callable, Iterator

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from engine.config import Settings
from engine.errors import ConfigError, DatabaseUnavailable, QueryError
from engine.secrets import describe_server, mask_text

log = logging.getLogger("engine.db")
_MAX_DELAY_S = 5.0  # the longest wait between two connection attempts
# the server's answer (SQLSTATE 3D000; libpq gives no sqlstate for a failed connect, only the text)
_MISSING_DATABASE = re.compile(r'database "((?:[^"]|"")*)" does not exist')
# libpq refusing a DSN option's value before any connection: a configuration error, never retried
_BAD_OPTION = re.compile(r'invalid (?:integer value "[^"]*" for connection option|port number|\w+ value)')
DSN_HINT = (
    "a DSN is postgresql://user@host:5432/dbname?option=value with libpq's option names "
    "(sslmode, connect_timeout, ...); set by --dsn, ENGINE_SOURCE_DSN or ENGINE_STATE_DSN"
)


def _session_options(*, read_only: bool, statement_timeout_s: float, application_name: str) -> str:
    opts = [f"-c statement_timeout={int(statement_timeout_s * 1000)}", "-c timezone=UTC"]
    if read_only:
        opts.append("-c default_transaction_read_only=on")
    return " ".join(opts)


def _unavailable(dsn: str, err: Exception, attempts: int) -> DatabaseUnavailable:
    return DatabaseUnavailable(
        f"cannot connect to PostgreSQL at {describe_server(dsn)} after {attempts} attempt(s): {_first_line(err, dsn)}",
        hint="check that the server is running and reachable from here, the host/port are right, "
        "and the user may log in (pg_hba.conf); the DSN comes from --dsn or ENGINE_SOURCE_DSN/ENGINE_STATE_DSN",
    )


def missing_database(err: Exception) -> str | None:
    """The database name when ``err`` is the server saying the DSN's database does not exist (else None)."""
    found = _MISSING_DATABASE.search(str(err)) if isinstance(err, psycopg.OperationalError) else None
    return found.group(1).replace('""', '"') if found else None


def _first_line(err: Exception, dsn: str) -> str:
    return mask_text(str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__, dsn)


def _config_problem(dsn: str, err: Exception) -> ConfigError | None:
    """A failed connect that waiting cannot fix: the database does not exist, or libpq refused an option's value
    (port ``54x32``, sslmode ``bogus``). None for anything worth retrying."""
    name = missing_database(err)
    if name is not None:
        return ConfigError(
            f"database {name!r} does not exist on {describe_server(dsn)}",
            hint="check the database name in the DSN (--dsn, ENGINE_SOURCE_DSN or ENGINE_STATE_DSN); "
            "`engine migrate` creates the state database, `engine seed` a development one",
        )
    if isinstance(err, psycopg.OperationalError) and _BAD_OPTION.search(str(err)):
        return ConfigError(f"invalid database DSN: {_first_line(err, dsn)}", hint=DSN_HINT)
    return None


def check_dsn(dsn: str) -> None:
    """A DSN libpq cannot parse (unknown option, bad URI) is a configuration error, not a traceback.

    So is a host with an ``@``: the tail of a password whose ``@`` was not percent-encoded."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as err:
        raise ConfigError(f"invalid database DSN: {_first_line(err, dsn)}", hint=DSN_HINT) from None
    if "@" in str(params.get("host") or ""):
        raise ConfigError(
            f"invalid database DSN: host {mask_text(str(params['host']), dsn)!r} holds an '@'",
            hint="an '@' (or ':', '/', '%') in the user or password must be percent-encoded: "
            "'@' is %40, e.g. postgresql://user:p%40ss@host/db",
        ) from None


def with_retry(
    action: Callable[[], psycopg.Connection], dsn: str, *, retries: int, base_delay: float = 0.2
) -> psycopg.Connection:
    """Run ``action`` (a connect), retrying OperationalError ``retries`` times with full-jitter backoff.

    What waiting cannot fix (a database that does not exist, an option libpq refuses) is not retried:
    a ConfigError naming it.
    """
    check_dsn(dsn)
    attempts = max(0, retries) + 1
    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        reraise=True,
        wait=wait_random_exponential(multiplier=base_delay, max=_MAX_DELAY_S),
        retry=retry_if_exception(lambda e: isinstance(e, psycopg.OperationalError) and _config_problem(dsn, e) is None),
    )
    try:
        return retrying(action)
    except psycopg.OperationalError as err:
        raise (_config_problem(dsn, err) or _unavailable(dsn, err, attempts)) from None


def connect(
    dsn: str,
    *,
    read_only: bool = False,
    statement_timeout_s: float = 300.0,
    retries: int = 3,
    autocommit: bool = False,
    connect_timeout: int = 5,
    application_name: str = "audience-engine",
) -> psycopg.Connection:
    """Open one connection (state database, admin work) with retry and timeouts."""
    options = _session_options(
        read_only=read_only, statement_timeout_s=statement_timeout_s, application_name=application_name
    )
    return with_retry(
        lambda: psycopg.connect(
            dsn,
            options=options,
            autocommit=autocommit,
            connect_timeout=connect_timeout,
            application_name=application_name,
        ),
        dsn,
        retries=retries,
    )


def connect_source(settings: Settings) -> psycopg.Connection:
    """One read-only, autocommit connection to the source database (catalog reads), with the settings' limits."""
    return connect(
        settings.require_source_dsn(),
        read_only=True,
        statement_timeout_s=settings.statement_timeout_s,
        retries=settings.connect_retries,
        autocommit=True,
    )


def create_database_if_missing(dsn: str, *, retries: int = 3, maintenance_db: str = "postgres") -> bool:
    """Create the database ``dsn`` names (from template0) when the server says it does not exist.

    For ``engine seed`` and ``engine migrate``; returns whether it was created. Any other connection
    problem is left to the normal connect, which retries and reports it.
    """
    from psycopg import sql  # noqa: PLC0415
    from psycopg.conninfo import make_conninfo  # noqa: PLC0415

    check_dsn(dsn)
    try:
        psycopg.connect(dsn, connect_timeout=5).close()
        return False
    except psycopg.OperationalError as err:
        name = missing_database(err)
    if not name:
        return False
    admin = make_conninfo(dsn, dbname=maintenance_db)
    with with_retry(lambda: psycopg.connect(admin, autocommit=True, connect_timeout=5), admin, retries=retries) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            return False  # created meanwhile by someone else: fine
        except psycopg.errors.InsufficientPrivilege:
            raise ConfigError(
                f"database {name!r} does not exist on {describe_server(dsn)}, and its user may not create it",
                hint="create it as a role with CREATEDB, or fix the database name in the DSN",
            ) from None
    return True


def _read_only_snapshot(conn: psycopg.Connection) -> None:
    """Every transaction on a source connection begins ``REPEATABLE READ READ ONLY``, explicitly.

    The session default (``default_transaction_read_only``) is a second wall, not the only one: a
    query could change a session default with ``set_config``, never the mode of its own transaction.
    """
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True


def _reset_session(conn: psycopg.Connection) -> None:
    """Back to the connection-time settings before the pool lends the connection again."""
    conn.execute("RESET ALL")
    conn.commit()


# What the source role could do beyond reading the app tables, one phrase per power (empty: a SELECT-only role).
# A superuser can do everything, so it is named alone. Membership counts even without INHERIT (SET ROLE reaches it).
_POWERS_SQL = """
select current_user, case when r.rolsuper then array['superuser'] else array_remove(array[
    case when r.rolcreaterole then 'CREATEROLE (can grant itself the server-file roles)' end,
    case when pg_has_role('pg_read_server_files', 'MEMBER') then 'member of pg_read_server_files' end,
    case when pg_has_role('pg_write_server_files', 'MEMBER') then 'member of pg_write_server_files' end,
    case when pg_has_role('pg_execute_server_program', 'MEMBER') then 'member of pg_execute_server_program' end,
    case when has_database_privilege(current_database(), 'CREATE') then 'CREATE on the database' end,
    (select 'CREATE on schema ' || string_agg(quote_ident(n.nspname), ', ' order by n.nspname)
        from pg_namespace as n
        where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
            and has_schema_privilege(n.oid, 'CREATE')),
    (select 'INSERT/UPDATE/DELETE/TRUNCATE on ' || count(*) || ' table(s): '
            || array_to_string((array_agg(t.name order by t.name))[1:3], ', ') || case when count(*) > 3 then ', ...'
                                                                                     else '' end
        from (select quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name
              from pg_class as c inner join pg_namespace as n on c.relnamespace = n.oid
              where c.relkind in ('r', 'p', 'v', 'f') and n.nspname not in ('pg_catalog', 'information_schema')
                  and n.nspname not like 'pg\\_%' and has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')
        ) as t having count(*) > 0)
], null) end
from pg_roles as r where r.rolname = current_user
"""
_warned = False  # the one warning of this process was given (for any server)
_WAYS_OUT = (
    "connect with a role that has SELECT only on the app tables (README: Security model), or set "
    "ENGINE_ALLOW_PRIVILEGED_SOURCE=1 to accept this role"
)


class RoleCheck(Enum):
    """What opening the source does about a role that can write or reach server files."""

    REFUSE = "refuse"  # `engine scheduler`, live sends: a ConfigError (exit 2)
    WARN = "warn"  # every other command: one warning line per process
    SKIP = "skip"  # a throwaway database the engine created itself (`engine test`): not checked


def role_check(settings: Settings, *, live: bool) -> RoleCheck:
    """The check for a command: ``live`` (the scheduler, a live send) refuses unless the operator allowed it."""
    if settings.throwaway_source:
        return RoleCheck.SKIP
    return RoleCheck.REFUSE if live and not settings.allow_privileged_source else RoleCheck.WARN


def check_source_role(conn: psycopg.Connection, dsn: str, check: RoleCheck) -> None:
    """Refuse or warn (once per process) when the source role can do more than read: the one check, one query.

    Every audience transaction is READ ONLY whatever the role, but a read-only transaction does not stop a
    superuser's or a file role's functions (``pg_read_file``, ``COPY ... TO PROGRAM``, ``dblink``).
    """
    global _warned
    if check is RoleCheck.SKIP or (check is RoleCheck.WARN and _warned):
        return
    try:
        conn.read_only = True
        row = conn.execute(_POWERS_SQL).fetchone()
        conn.rollback()
    except psycopg.Error as err:
        if check is RoleCheck.REFUSE:  # cannot tell: a live send or the scheduler must not guess
            problem = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(
                f"cannot check what the source role may do on {describe_server(dsn)}: {mask_text(problem, dsn)}",
                hint=_WAYS_OUT,
            ) from None
        return
    if not row or not row[1]:
        return
    role, powers = row[0], "; ".join(row[1])
    if check is RoleCheck.REFUSE:
        raise ConfigError(
            f"the source role {role} on {describe_server(dsn)} can do more than read ({powers}): "
            "`engine scheduler` and live sends refuse a role that can write or reach server files",
            hint=_WAYS_OUT,
        )
    _warned = True
    log.warning(
        "the source role can do more than read (%s): every audience transaction is READ ONLY "
        "anyway, but production should connect with a role that has SELECT only; `engine scheduler` and "
        "live sends refuse it unless ENGINE_ALLOW_PRIVILEGED_SOURCE=1 (README: Security model)",
        powers,
        extra={"server": describe_server(dsn), "role": role},
    )


def probe_source(dsn: str, *, retries: int, check: RoleCheck) -> None:
    """Check the source server answers (with retry) and what its role may do (``check_source_role``)."""
    probe = with_retry(lambda: psycopg.connect(dsn, connect_timeout=5), dsn, retries=retries)
    try:
        check_source_role(probe, dsn, check)
    finally:
        probe.close()


class SourcePool:
    """A read-only psycopg_pool over the app database, opened lazily by ``open()``."""

    def __init__(
        self,
        dsn: str,
        *,
        size: int = 10,
        statement_timeout_s: float = 300.0,
        retries: int = 3,
        connect_timeout: int = 5,
        check: RoleCheck = RoleCheck.WARN,
    ) -> None:
        self.dsn = dsn
        self.retries = retries
        self.check = check
        self._pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max(1, size),
            open=False,
            timeout=30.0,
            kwargs={
                "options": _session_options(
                    read_only=True, statement_timeout_s=statement_timeout_s, application_name="audience-engine"
                ),
                "connect_timeout": connect_timeout,
                "application_name": "audience-engine",
                "autocommit": False,
            },
            name="engine-source",
            configure=_read_only_snapshot,
            reset=_reset_session,
        )

    @property
    def max_size(self) -> int:
        """How many connections the pool may hold (queries of one audience run in parallel up to it)."""
        return self._pool.max_size

    def open(self) -> "SourcePool":
        """Check the server answers (with retry) and the role (``check``), then open the pool."""
        probe_source(self.dsn, retries=self.retries, check=self.check)
        self._pool.open(wait=False)
        return self

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> "SourcePool":
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """Borrow a connection; a pool timeout becomes DatabaseUnavailable."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as err:
            raise _unavailable(self.dsn, err, self.retries + 1) from None


def translate_query_error(err: psycopg.Error, *, what: str, dsn: str | None = None) -> QueryError:
    """Turn a psycopg error into a QueryError carrying SQLSTATE and a hint."""
    diag = getattr(err, "diag", None)
    sqlstate = getattr(err, "sqlstate", None) or ""
    primary = (diag.message_primary if diag and diag.message_primary else str(err).splitlines()[0]).strip()
    hint = None
    if sqlstate == "25006":
        hint = "the source database is opened read-only: audience SQL may only read"
    elif sqlstate == "57014":
        hint = "the statement timeout was hit: raise ENGINE_STATEMENT_TIMEOUT or make the query cheaper"
    elif sqlstate in {"42P01", "42703"}:
        hint = "check table and column names against the app schema"
    elif diag and diag.message_hint:
        hint = diag.message_hint
    message = f"{what} failed [{sqlstate or 'no SQLSTATE'}]: {primary}"
    return QueryError(mask_text(message, dsn) if dsn else message, hint=hint)
