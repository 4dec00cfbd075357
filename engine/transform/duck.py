"""One in-memory DuckDB connection per audience run, and the steps that shape the rows.

Each step creates a table from the previous one and records how many rows it kept
and why rows left, so the manifest and ``engine preview`` can show the funnel.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from engine.errors import EngineError, SpecError
from engine.runs.model import StepRecord
from engine.spec.model import AudienceSpec, OutputSpec
from engine.transform import sandbox
from engine.transform.sqlparts import ident, literal, order_terms, python_datetime


class TransformError(EngineError):
    """A DuckDB step failed (bad column, bad expression)."""


class Workspace:
    """The DuckDB side of one run: query results in, shaped audience and output rows out."""

    def __init__(self, allowed_dir: Path | None = None) -> None:
        # spec SQL runs here: no file outside ``allowed_dir`` (the run folder), settings locked
        self.con = sandbox.connect(allowed_dir)
        self.steps: list[StepRecord] = []
        self._current = ""
        self._chain: list[tuple[str, bool]] = []  # the steps since the last stored one: (name, is a table)

    def close(self) -> None:
        self.con.close()

    def _count(self, table: str) -> int:
        return int(self._scalar(f"SELECT count(*) FROM {ident(table)}"))

    def _scalar(self, sql: str) -> Any:
        return self.con.execute(sql).fetchall()[0][0]

    def _run(self, sql: str, what: str) -> None:
        try:
            self.con.execute(sql)
        except duckdb.Error as err:
            raise TransformError(f"{what} failed: {str(err).splitlines()[0]}") from None

    def load(self, name: str, table: pa.Table, timestamp_columns: tuple[str, ...]) -> None:
        """Materialise an Arrow table as a DuckDB table, typing timestamp text columns."""
        started = time.perf_counter()
        self.con.register("_incoming", table)
        cols = [
            f"CAST({ident(c)} AS TIMESTAMPTZ) AS {ident(c)}" if c in timestamp_columns else ident(c)
            for c in table.column_names
        ]
        self._run(
            f"CREATE OR REPLACE TABLE {ident(name)} AS SELECT {', '.join(cols) or '*'} FROM _incoming",
            f"loading {name}",
        )
        self.con.unregister("_incoming")
        pa.default_memory_pool().release_unused()
        self.steps.append(StepRecord(f"load:{name}", table.num_rows, time.perf_counter() - started))

    def distinct_values(self, table: str, column: str) -> list[Any]:
        """Sorted distinct non-null values of a column (for bound arrays)."""
        rows = self.con.execute(
            f"SELECT DISTINCT CAST({ident(column)} AS VARCHAR) FROM {ident(table)} "
            f"WHERE {ident(column)} IS NOT NULL ORDER BY 1"
        ).fetchall()
        return [r[0] for r in rows]

    def columns(self, table: str) -> list[str]:
        return [r[0] for r in self.con.execute(f"DESCRIBE {ident(table)}").fetchall()]

    def _step(
        self,
        name: str,
        sql: str,
        removed: dict[str, int] | None = None,
        started: float = 0.0,
        *,
        materialize: bool = False,
    ) -> None:
        """The next step of the audience: a view over the previous one (a filter or a join costs a scan when
        read, a copy of every row when stored), or a table where recomputing would cost more or could differ
        (a window, the spec's own SQL). ``finish`` stores the last one."""
        target = f"step_{len(self.steps)}_{name}"
        self._run(f"CREATE {'TABLE' if materialize else 'VIEW'} {ident(target)} AS {sql}", f"step {name}")
        self._become(target, materialize)
        try:
            count = self._count(target)
        except duckdb.Error as err:
            raise TransformError(f"step {name} failed: {str(err).splitlines()[0]}") from None
        self.steps.append(StepRecord(name, count, time.perf_counter() - started, removed or {}))

    def _become(self, target: str, table: bool) -> None:
        """Point ``audience`` at ``target``; once it is a table, nothing before it is read again: drop it."""
        self._run(f"CREATE OR REPLACE VIEW audience AS SELECT * FROM {ident(target)}", "audience view")
        self._current = target
        if table:
            for name, was_table in reversed(self._chain):  # views first: they read the tables
                self._run(f"DROP {'TABLE' if was_table else 'VIEW'} {ident(name)}", "drop previous step")
            self._chain = []
        self._chain.append((target, table))

    def finish(self) -> None:
        """Store the audience as a table: the outputs, segments and metrics read it many times."""
        if self._chain and not self._chain[-1][1]:
            target = f"step_{len(self.steps)}_audience"
            self._run(f"CREATE TABLE {ident(target)} AS SELECT * FROM {ident(self._current)}", "storing the audience")
            self._become(target, True)

    def build_audience(self, spec: AudienceSpec) -> None:
        """Join, prioritise, require, thresholds and the optional transform, in that order."""
        for name, expression in spec.segments.items():  # refused before any of them runs
            sandbox.check_fragment(expression, f"segment {name!r}", expression=True)
        for name, sql in spec.metrics.items():
            sandbox.check_fragment(sql, f"metric {name!r}", expression=False)
        started = time.perf_counter()
        sql = f"SELECT * FROM {ident(spec.base)}"
        for join in spec.joins:
            how = "INNER" if join.how == "inner" else "LEFT"
            sql += f" {how} JOIN {ident(join.query)} USING ({', '.join(ident(c) for c in join.using)})"
        self._step("join", sql, started=started)
        if spec.prioritise_key:
            self.prioritise(spec)
        self.require(spec)
        self.apply_thresholds(spec)

    def prioritise(self, spec: AudienceSpec) -> None:
        started = time.perf_counter()
        key = ", ".join(ident(k) for k in spec.prioritise_key)
        # every column as the last tie-break: the chosen row never depends on scan order
        tie = [f"{ident(c)} ASC NULLS LAST" for c in self.columns(self._current)]
        order = ", ".join(order_terms(spec.prioritise_order) + tie)
        self._step(
            "prioritise",
            f"SELECT * FROM {ident(self._current)} QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {order}) = 1",
            started=started,
            materialize=True,
        )

    def require(self, spec: AudienceSpec) -> None:
        if not spec.require:
            return
        started = time.perf_counter()
        labels: list[str] = []
        conditions: list[str] = []
        dropped: list[str] = []
        for req in spec.require:
            col = ident(req.column)
            cond = f"{col} IS NOT NULL"
            if req.blank == "reject":
                cond += f" AND trim(CAST({col} AS VARCHAR)) <> ''"
            # attribute each dropped row to the first requirement it fails
            dropped.append(f"({' AND '.join(conditions) or 'TRUE'}) AND NOT ({cond})")
            labels.append(f"missing {req.column}" + (" (or blank)" if req.blank == "reject" else ""))
            conditions.append(f"({cond})")
        removed = dict(zip(labels, self._counts(dropped)))
        self._step(
            "require", f"SELECT * FROM {ident(self._current)} WHERE {' AND '.join(conditions)}", removed, started
        )

    def _counts(self, predicates: list[str]) -> list[int]:
        """Rows of the current step matching each predicate, in one scan (a count per predicate was one each)."""
        filters = ", ".join(f"count(*) FILTER (WHERE {p})" for p in predicates)
        return [int(n) for n in self.con.execute(f"SELECT {filters} FROM {ident(self._current)}").fetchall()[0]]

    def _segment_predicate(self, spec: AudienceSpec, segment: str | None) -> str:
        if not segment:
            return "TRUE"
        return f"({sandbox.check_fragment(spec.segments[segment], f'segment {segment!r}', expression=True)})"

    def apply_thresholds(self, spec: AudienceSpec) -> None:
        if not spec.thresholds:
            return
        started = time.perf_counter()
        keep: list[str] = []
        dropped: list[str] = []
        for threshold in spec.thresholds:
            value = f"coalesce({ident(threshold.column)}, 0)"  # no matching rows means a count of 0
            bounds = []
            if threshold.min is not None:
                bounds.append(f"{value} >= {literal(threshold.min)}")
            if threshold.max is not None:
                bounds.append(f"{value} <= {literal(threshold.max)}")
            fails = f"{self._segment_predicate(spec, threshold.segment)} AND NOT ({' AND '.join(bounds)})"
            # attribute each dropped row to the first threshold it fails
            dropped.append(f"({' AND '.join(f'NOT ({k})' for k in keep) or 'TRUE'}) AND {fails}")
            keep.append(fails)
        removed = dict(zip([t.label for t in spec.thresholds], self._counts(dropped)))
        self._step(
            "thresholds",
            f"SELECT * FROM {ident(self._current)} WHERE " + " AND ".join(f"NOT ({k})" for k in keep),
            removed,
            started,
        )

    def transform(self, sql: str) -> None:
        """Run the spec's DuckDB SQL over the ``audience`` view; its result becomes the audience."""
        started = time.perf_counter()
        self._step(
            "transform",
            sandbox.check_fragment(sql, "transform SQL", expression=False),
            started=started,
            materialize=True,
        )  # its SQL may not give the same rows twice (random())

    def segment_counts(self, spec: AudienceSpec) -> dict[str, int]:
        out: dict[str, int] = {}
        for name in spec.segments:
            try:
                where = self._segment_predicate(spec, name)
                out[name] = int(self._scalar(f"SELECT count(*) FROM audience WHERE {where}"))
            except duckdb.Error as err:
                raise TransformError(f"segment {name!r} failed: {str(err).splitlines()[0]}") from None
        return out

    def metrics(self, spec: AudienceSpec) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, sql in spec.metrics.items():
            try:
                result = self.con.execute(sandbox.check_fragment(sql, f"metric {name!r}", expression=False))
                rows = result.fetchall()
                names = [d[0] for d in result.description]
            except duckdb.Error as err:
                raise TransformError(f"metric {name!r} failed: {str(err).splitlines()[0]}") from None
            if len(rows) == 1 and len(names) == 1:
                out[name] = rows[0][0]
            else:
                out[name] = [dict(zip(names, r)) for r in rows]
        return out

    def output_query(self, spec: AudienceSpec, output: OutputSpec) -> str:
        """The DuckDB SELECT of one output: text columns (empty text as NULL), its segment, its order."""
        select = []
        for col in output.columns:
            if col.column is None:
                expr = literal(col.value)
            elif col.format == "python_datetime":
                expr = python_datetime(ident(col.column))
            else:
                expr = f"CAST({ident(col.column)} AS VARCHAR)"
            # NULL and '' are both written as an empty cell, as Python's csv module wrote them
            select.append(f"nullif({expr}, '') AS {ident(col.header)}")
        where = self._segment_predicate(spec, output.segment)
        order = ", ".join(order_terms(output.order_by))
        return f"SELECT {', '.join(select)} FROM audience WHERE {where} ORDER BY {order}"

    def _fetch(self, sql: str, output: OutputSpec) -> list[tuple[Any, ...]]:
        try:
            return self.con.execute(sql).fetchall()
        except duckdb.Error as err:
            raise SpecError(
                f"output {output.name!r} failed: {str(err).splitlines()[0]}",
                hint="check its columns, segment and order_by against the audience's columns",
            ) from None

    def count_rows(self, query: str, output: OutputSpec) -> int:
        return int(self._fetch(f"SELECT count(*) FROM ({query})", output)[0][0])

    def sample_rows(self, query: str, output: OutputSpec, *, limit: int, offset: int = 0) -> list[tuple[str, ...]]:
        """Some rows of an output as text ('' for null), for TEST rows and previews."""
        rows = self._fetch(f"SELECT * FROM ({query}) LIMIT {int(limit)} OFFSET {int(offset)}", output)
        return [tuple("" if v is None else v for v in row) for row in rows]

    def copy_csv(self, query: str, output: OutputSpec, path: str) -> None:
        """Let DuckDB write the CSV: header, minimal quoting, CRLF, empty cells for null (no comment char)."""
        target = literal(path)
        self._fetch(
            f"COPY ({query}) TO {target} (FORMAT csv, HEADER, DELIMITER ',', QUOTE '\"', "
            f"ESCAPE '\"', NEW_LINE '\r\n', NULLSTR '', COMMENT '')",
            output,
        )
