"""Benchmark entry point: ``python -m benchmarks [--users N] [--scales A,B,C] [--sections ...]``.

For each scale it creates (or, with ``--skip-seed``, reuses) a database ``<prefix>_<users>``
seeded by ``engine seed``, then measures every audience: the floor (its SQL straight from
PostgreSQL), the engine end to end, and the old way; the scaling table and the targets
follow, then the delivery and cadence benchmarks of their own scripts. Prints tables and,
with ``--json``, writes every figure. The machine is shared and noisy: read the ratios.
See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    ORIGINAL_SCRIPT_DIR,
    PROJECT_ROOT,
    BenchError,
    ChildRun,
    drop_database,
    install_original_clock,
    prepare_database,
    run_child,
    showcase_product,
)

AUDIENCES = ("layer2_trending_closet", "layer3_recent_activity", "showcase", "layer5_new_user_waterfall")
SECTIONS = ("floor", "engine", "old", "original", "scaling", "project", "delivery")
DEFAULT_AS_OF = "2026-11-23T12:30:00+00:00"
DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
MIB = 1024 * 1024
# Targets (Performance issue): engine <= 1.1 x floor at the largest scale, >= 1.5 x faster than the
# old way at every scale, peak RSS < 1 GiB, near-linear growth (time ~ users^k with k <= 1.1 here).
MAX_ENGINE_OVER_FLOOR = 1.1
MIN_OLD_OVER_ENGINE = 1.5
MAX_RSS_BYTES = 1024 * MIB
MAX_GROWTH_EXPONENT = 1.1
MAX_BINDING_COST = 1.05  # the floor with values bound on the server / with values inlined as literals


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    parser.add_argument(
        "--users", type=int, default=1_000_000, help="the headline scale (added to --scales); default 1,000,000"
    )
    parser.add_argument(
        "--scales", default="100000,300000,1000000", help="comma-separated user counts for the scaling table"
    )
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"any of {', '.join(SECTIONS)} (comma-separated); the engine runs whenever "
        "floor or old does (the floor replays its SQL, the old way is compared with it)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per figure (the median is shown)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured engine runs per audience first")
    parser.add_argument(
        "--dsn",
        default=os.environ.get("ENGINE_BENCH_DSN", DEFAULT_ADMIN_DSN),
        help="a maintenance database on the server (CREATE/DROP DATABASE run there)",
    )
    parser.add_argument("--db-prefix", default="ae_bench", help="bench databases are <prefix>_<users>")
    parser.add_argument(
        "--skip-seed", action="store_true", help="reuse a bench database already seeded with the same users/seed/as-of"
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench databases (default: drop them)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", default=DEFAULT_AS_OF, help="anchor time of the data and the runs")
    parser.add_argument("--cadence-users", type=int, default=100_000, help="audience size of the cadence benchmark")
    parser.add_argument("--delivery-args", default="", help="arguments passed to benchmarks/delivery.py")
    parser.add_argument(
        "--originals",
        type=Path,
        help="a checkout of the original generators' repository (section original: their scripts, run as "
        "shipped; needs the originals extra: psycopg2, python-dotenv)",
    )
    parser.add_argument("--json", dest="json_path", type=Path, help="write every figure to this JSON file")
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}")
    if args.originals is not None:
        if not (args.originals / ORIGINAL_SCRIPT_DIR).is_dir():
            parser.error(f"--originals: no {ORIGINAL_SCRIPT_DIR} in {args.originals}")
        if "original" not in args.sections:
            args.sections.append("original")
    elif "original" in args.sections:
        parser.error("section original needs --originals (a checkout of the original scripts' repository)")
    args.scales = sorted({int(s) for s in args.scales.split(",") if s.strip()} | {args.users})
    args.as_of = datetime.fromisoformat(args.as_of)
    return args


# ---- measuring --------------------------------------------------------------------------------


def _summary(runs: list[ChildRun]) -> dict[str, Any]:
    last = runs[-1].payload
    return {
        "seconds": statistics.median(r.seconds for r in runs),
        "last_seconds": runs[-1].seconds,
        "wall_seconds": statistics.median(r.wall_seconds for r in runs),
        "peak_rss_bytes": max(r.peak_rss_bytes for r in runs),
        "runs": [r.seconds for r in runs],
        **{k: v for k, v in last.items() if k != "seconds"},
    }


def compare_outputs(engine: list[dict[str, Any]], old: list[dict[str, Any]]) -> dict[str, Any]:
    """Row counts and bytes of each production output: engine vs old way."""
    old_by_name = {o["name"]: o for o in old if not o["is_test"]}
    rows = []
    for out in (o for o in engine if not o["is_test"]):
        twin = old_by_name.get(out["name"], {"rows": 0, "sha256": None})
        rows.append(
            {
                "name": out["name"],
                "engine_rows": out["rows"],
                "old_rows": twin["rows"],
                "identical": out["sha256"] == twin["sha256"],
            }
        )
    return {
        "outputs": rows,
        "engine_rows": sum(r["engine_rows"] for r in rows),
        "old_rows": sum(r["old_rows"] for r in rows),
        "rows_match": all(r["engine_rows"] == r["old_rows"] for r in rows),
        "identical": all(r["identical"] for r in rows),
    }


def measure_audience(
    dsn: str, audience: str, variables: dict[str, str], args: argparse.Namespace, work: Path
) -> dict[str, Any]:
    """Warm up, then ``repeat`` rounds of engine, floor, old (interleaved, so drift hits all alike)."""
    sql_file = work / f"{audience}.sql.json"
    base = {"dsn": dsn, "audience": audience, "as_of": args.as_of.isoformat(), "vars": variables}
    runs: dict[str, list[ChildRun]] = {"engine": [], "floor": [], "floor_literal": [], "old": [], "original": []}

    def child(kind: str, **extra: Any) -> ChildRun:
        with tempfile.TemporaryDirectory(dir=work) as out:
            return run_child(kind, {**base, "out": out, **extra})

    for _ in range(args.warmup):
        child("engine", sql_out=str(sql_file))
    for _ in range(args.repeat):
        runs["engine"].append(child("engine", sql_out=None if sql_file.exists() else str(sql_file)))
        if "floor" in args.sections:
            runs["floor"].append(child("floor", sql_file=str(sql_file)))
            runs["floor_literal"].append(child("floor", sql_file=str(sql_file), literal=True))
        if "old" in args.sections:
            runs["old"].append(child("old"))
        if "original" in args.sections:
            runs["original"].append(child("original", originals=str(args.originals)))
    result: dict[str, Any] = {kind: _summary(r) for kind, r in runs.items() if r}
    # ratios per round, then the median: a round's runs share the machine's mood of the moment
    result["ratios"] = {}
    for key, (num, den) in {
        "engine_over_floor": ("engine", "floor"),
        "old_over_engine": ("old", "engine"),
        "original_over_engine": ("original", "engine"),
        "binding_cost": ("floor", "floor_literal"),
    }.items():
        if runs[num] and runs[den]:
            result["ratios"][key] = statistics.median(a.seconds / b.seconds for a, b in zip(runs[num], runs[den]))
    if "old" in result:
        result["match"] = compare_outputs(result["engine"]["outputs"], result["old"]["outputs"])
    return result


def measure_scale(users: int, args: argparse.Namespace) -> dict[str, Any]:
    name = f"{args.db_prefix}_{users}"
    log(f"== {users:,} users: database {name}")
    db = prepare_database(args.dsn, name, users=users, seed=args.seed, as_of=args.as_of, reuse=args.skip_seed)
    log(f"   {'reused' if db.reused else f'seeded in {db.seed_seconds:.1f}s'}")
    try:
        product = showcase_product(db.dsn, args.as_of)
        if "original" in args.sections:
            install_original_clock(db.dsn, args.as_of)
        audiences = {}
        with tempfile.TemporaryDirectory(prefix="ae_bench_") as work:
            for audience in AUDIENCES:
                variables = {"product_id": product} if audience == "showcase" else {}
                audiences[audience] = measure_audience(db.dsn, audience, variables, args, Path(work))
                log(
                    f"   {audience}: "
                    + ", ".join(
                        f"{k} {audiences[audience][k]['seconds']:.2f}s"
                        for k in ("engine", "floor", "old", "original")
                        if k in audiences[audience]
                    )
                )
            project = (
                measure_project(db.dsn, product, args, Path(work))
                if ("project" in args.sections and users == args.users)
                else None
            )
    finally:
        if not args.keep:
            drop_database(args.dsn, name)
    return {
        "database": name,
        "reused": db.reused,
        "seed_seconds": db.seed_seconds,
        "showcase_product": product,
        "audiences": audiences,
        "project": project,
    }


def measure_project(dsn: str, product: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Plain ``engine run`` (every audience, one process): audiences one at a time vs two at a time."""
    base = {"dsn": dsn, "as_of": args.as_of.isoformat(), "vars": {"product_id": product}}
    runs: dict[int, list[ChildRun]] = {1: [], 2: []}
    for _ in range(args.repeat):
        for width in runs:
            with tempfile.TemporaryDirectory(dir=work) as out:
                runs[width].append(run_child("project", {**base, "out": out, "width": width}))
    result = {f"width_{w}": statistics.median(r.seconds for r in rs) for w, rs in runs.items()}
    result["speedup"] = statistics.median(a.seconds / b.seconds for a, b in zip(runs[1], runs[2]))
    log(f"   project run: one at a time {result['width_1']:.2f}s, two at a time {result['width_2']:.2f}s")
    return result


def run_script(argv: list[str]) -> dict[str, Any]:
    """Run another helper's benchmark script; keep what it printed."""
    proc = subprocess.run([sys.executable, *argv], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    return {
        "command": " ".join(argv),
        "exit_code": proc.returncode,
        "output": proc.stdout.strip() + (("\n" + proc.stderr.strip()) if proc.returncode else ""),
    }


def measure_delivery(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The Delivery issue's benchmark and the cadence benchmark, as their own scripts print them."""
    return [
        run_script(["benchmarks/delivery.py", *shlex.split(args.delivery_args)]),
        run_script(["benchmarks/cadence_filter.py", "--users", str(args.cadence_users)]),
    ]


# ---- reporting --------------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = [list(r) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:  # first column left-aligned, figures right-aligned
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def fmt_s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def fmt_mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:.0f} MiB"


def seconds(result: dict[str, Any], kind: str) -> float | None:
    return result[kind]["seconds"] if kind in result else None


def round_ratio(result: dict[str, Any], key: str) -> float | None:
    return result["ratios"].get(key)


def audience_table(results: dict[int, dict[str, Any]]) -> str:
    rows = []
    for users, scale in results.items():
        for audience, r in scale["audiences"].items():
            match = r.get("match")
            check = (
                "-"
                if not match
                else (
                    f"{match['engine_rows']:,} / {match['old_rows']:,} "
                    + ("identical" if match["identical"] else "rows match" if match["rows_match"] else "MISMATCH")
                )
            )
            rows.append(
                [
                    f"{users:,}",
                    audience,
                    fmt_s(seconds(r, "floor")),
                    fmt_s(seconds(r, "engine")),
                    fmt_ratio(round_ratio(r, "engine_over_floor")),
                    fmt_ratio(round_ratio(r, "binding_cost")),
                    fmt_s(seconds(r, "old")),
                    fmt_ratio(round_ratio(r, "old_over_engine")),
                    fmt_s(seconds(r, "original")),
                    fmt_ratio(round_ratio(r, "original_over_engine")),
                    fmt_mib(r["engine"]["peak_rss_bytes"]),
                    fmt_mib(r["old"]["peak_rss_bytes"] if "old" in r else None),
                    check,
                ]
            )
    return table(
        [
            "users",
            "audience",
            "floor s",
            "engine s",
            "engine/floor",
            "bound/literal",
            "old s",
            "old/engine",
            "orig s",
            "orig/engine",
            "engine RSS",
            "old RSS",
            "rows engine / old",
        ],
        rows,
    )


def summary_table(results: dict[int, dict[str, Any]]) -> str:
    """Per audience and scale: engine/floor, old/engine and original/engine (medians of the rounds' ratios)."""
    scales = list(results)
    rows = []
    for audience in AUDIENCES:
        cells = [audience]
        for users in scales:
            r = results[users]["audiences"].get(audience, {"ratios": {}})
            cells += [
                fmt_ratio(round_ratio(r, key))
                for key in ("engine_over_floor", "old_over_engine", "original_over_engine")
            ]
        rows.append(cells)
    headers = ["audience"]
    for users in scales:
        short = f"{users // 1_000_000}M" if users % 1_000_000 == 0 else f"{users // 1000}k"
        headers += [f"{short} eng/floor", f"{short} old/eng", f"{short} orig/eng"]
    return table(headers, rows)


def steps_table(scale: dict[str, Any]) -> str:
    rows = []
    for audience, r in scale["audiences"].items():
        engine = r["engine"]
        floor = {q["name"]: q["seconds"] for q in r["floor"]["queries"]} if "floor" in r else {}
        for q in engine["queries"]:
            rows.append(
                [audience, f"query {q['name']}", f"{q['rows']:,}", fmt_s(q["seconds"]), fmt_s(floor.get(q["name"]))]
            )
        for step in engine["steps"]:
            rows.append([audience, f"duckdb {step['step']}", f"{step['rows']:,}", fmt_s(step["seconds"]), ""])
        accounted = sum(q["seconds"] for q in engine["queries"]) + sum(s["seconds"] for s in engine["steps"])
        rows.append([audience, "outputs, render, connect", "", fmt_s(engine["last_seconds"] - accounted), ""])
        floor = r["floor"]["last_seconds"] if "floor" in r else None
        rows.append([audience, "total", "", fmt_s(engine["last_seconds"]), fmt_s(floor)])
    return table(["audience", "step (last engine run)", "rows", "engine s", "floor s"], rows)


def growth(points: list[tuple[int, float]]) -> float | None:
    """k in time ~ users^k between the smallest and the largest scale."""
    (n0, t0), (n1, t1) = points[0], points[-1]
    return None if n1 == n0 or t0 <= 0 or t1 <= 0 else math.log(t1 / t0) / math.log(n1 / n0)


def scaling_table(results: dict[int, dict[str, Any]]) -> tuple[str, dict[str, dict[str, float | None]]]:
    scales = list(results)
    exponents: dict[str, dict[str, float | None]] = {}
    rows = []
    for audience in AUDIENCES:
        per = [results[n]["audiences"][audience] for n in scales]
        engine_k = growth([(n, r["engine"]["seconds"]) for n, r in zip(scales, per)])
        floor_k = (
            growth([(n, r["floor"]["seconds"]) for n, r in zip(scales, per)])
            if all("floor" in r for r in per)
            else None
        )
        exponents[audience] = {"engine": engine_k, "floor": floor_k}
        rows.append(
            [
                audience,
                *(f"{fmt_s(r['engine']['seconds'])} s / {fmt_mib(r['engine']['peak_rss_bytes'])}" for r in per),
                "-" if engine_k is None else f"{engine_k:.2f}",
                "-" if floor_k is None else f"{floor_k:.2f}",
            ]
        )
    return table(["audience", *(f"{n:,} users" for n in scales), "k engine", "k floor"], rows), exponents


def targets(results: dict[int, dict[str, Any]], exponents: dict[str, dict[str, float | None]] | None) -> list[str]:
    largest = max(results)
    lines = []
    for audience, r in results[largest]["audiences"].items():
        over = round_ratio(r, "engine_over_floor")
        if over is not None:
            lines.append(
                f"{'PASS' if over <= MAX_ENGINE_OVER_FLOOR else 'MISS'}  engine/floor {over:.2f}x "
                f"(<= {MAX_ENGINE_OVER_FLOOR}x) at {largest:,} users: {audience}"
            )
        cost = round_ratio(r, "binding_cost")
        if cost is not None:
            lines.append(
                f"{'PASS' if cost <= MAX_BINDING_COST else 'MISS'}  server-side binding {cost:.2f}x the "
                f"literal floor (<= {MAX_BINDING_COST}x) at {largest:,} users: {audience}"
            )
        rss = r["engine"]["peak_rss_bytes"]
        lines.append(
            f"{'PASS' if rss < MAX_RSS_BYTES else 'MISS'}  peak RSS {fmt_mib(rss)} (< 1 GiB) at "
            f"{largest:,} users: {audience}"
        )
    for users, scale in results.items():
        for audience, r in scale["audiences"].items():
            for key, label in (("old_over_engine", "old/engine"), ("original_over_engine", "original/engine")):
                faster = round_ratio(r, key)
                if faster is not None:
                    lines.append(
                        f"{'PASS' if faster >= MIN_OLD_OVER_ENGINE else 'MISS'}  {label} {faster:.2f}x "
                        f"(>= {MIN_OLD_OVER_ENGINE}x) at "
                        f"{users:,} users: {audience}"
                    )
            if "match" in r and not r["match"]["rows_match"]:
                lines.append(f"MISS  outputs differ from the old way at {users:,} users: {audience}")
    for audience, k in (exponents or {}).items():
        if k["engine"] is not None:
            lines.append(
                f"{'PASS' if k['engine'] <= MAX_GROWTH_EXPONENT else 'MISS'}  growth exponent "
                f"{k['engine']:.2f} (<= {MAX_GROWTH_EXPONENT}; floor {fmt_s(k['floor'])}): {audience}"
            )
    return lines


def report(
    results: dict[int, dict[str, Any]], delivery: list[dict[str, Any]] | None, args: argparse.Namespace
) -> tuple[str, dict[str, Any]]:
    parts = []
    extra: dict[str, Any] = {}
    if results:
        parts.append(
            f"Audiences: floor, engine, old way (seconds: median of {args.repeat} rounds; "
            "ratios: median of the "
            f"rounds' ratios; RSS: highest peak of a run)\n" + audience_table(results)
        )
        parts.append(
            "Summary: engine/floor (target <= 1.1 at the largest scale), old way / engine and original scripts / "
            "engine (target >= 1.5), medians of the interleaved rounds' ratios\n" + summary_table(results)
        )
        largest = max(results)
        if "engine" in args.sections:
            parts.append(f"Engine steps at {largest:,} users\n" + steps_table(results[largest]))
        exponents = None
        if "scaling" in args.sections and len(results) > 1:
            text, exponents = scaling_table(results)
            parts.append("Scaling: engine seconds / peak RSS; k = growth exponent (time ~ users^k)\n" + text)
            extra["growth_exponents"] = exponents
        project = results[largest].get("project")
        if project:
            parts.append(
                f"Whole project (`engine run`, every audience in one process) at {largest:,} users\n"
                + table(
                    ["audiences at once", "seconds (median)"],
                    [["1", fmt_s(project["width_1"])], ["2 (default)", fmt_s(project["width_2"])]],
                )
                + f"\nspeed-up {project['speedup']:.2f}x (median of the rounds' ratios)"
            )
        extra["targets"] = targets(results, exponents)
        parts.append("Targets\n" + "\n".join(extra["targets"]))
    if delivery is not None:
        parts.append("Delivery and cadence\n" + "\n".join(f"$ python {d['command']}\n{d['output']}" for d in delivery))
    return "\n\n".join(parts), extra


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    measured = {"floor", "engine", "old", "original", "scaling", "project"} & set(args.sections)
    try:
        results = {users: measure_scale(users, args) for users in args.scales} if measured else {}
    except BenchError as err:
        log(f"benchmark stopped: {err}")
        return 1
    delivery = measure_delivery(args) if "delivery" in args.sections else None
    text, extra = report(results, delivery, args)
    print(text)
    if args.json_path:
        payload = {
            "config": {
                "users": args.users,
                "scales": args.scales,
                "sections": args.sections,
                "repeat": args.repeat,
                "warmup": args.warmup,
                "seed": args.seed,
                "as_of": args.as_of.isoformat(),
                "cpus": os.cpu_count(),
            },
            "results": {str(k): v for k, v in results.items()},
            "delivery": delivery,
            **extra,
        }
        args.json_path.write_text(json.dumps(payload, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
