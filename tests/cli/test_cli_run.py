"""The run/list/plan/preview/migrate commands from the outside: flags, exit codes, JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from engine.cli.main import cli
from tests.conftest import PROJECT_ROOT
from tests.fixtures.appdata import AppData, hours_before, ts

AS_OF = "2026-11-20T12:00:00Z"


def invoke(*args: str, env: dict[str, str] | None = None):
    runner = CliRunner()
    return runner.invoke(cli, ["--project-dir", str(PROJECT_ROOT), "--log-format", "json", *args],
                         env={"ENGINE_SOURCE_DSN": "", "ENGINE_STATE_DSN": "", **(env or {})},
                         catch_exceptions=False)


def test_list_json_names_the_four_audiences() -> None:
    result = invoke("--json", "list")
    assert result.exit_code == 0
    names = [a["name"] for a in json.loads(result.stdout)]
    assert names == ["layer2_trending_closet", "layer3_recent_activity", "layer5_new_user_waterfall", "showcase"]


def test_plan_prints_bound_placeholders_not_values() -> None:
    result = invoke("--json", "plan", "layer3_recent_activity", "--as-of", AS_OF, "--var", "cooling_hours=6")
    assert result.exit_code == 0
    [activity, profiles, stats] = json.loads(result.stdout)
    assert "%(cooling_hours)s" in activity["sql"] and "6" not in activity["sql"].split("bounds")[0]
    assert activity["params"]["cooling_hours"] == 6
    assert profiles["params"] == {"user_ids": []}


def test_usage_errors_exit_2() -> None:
    bad_var = invoke("plan", "layer3_recent_activity", "--var", "cooling_hours=soon")
    assert bad_var.exit_code == 2 and "not a valid integer" in bad_var.stderr
    unknown = invoke("run", "--select", "layer3_recent_activty")
    assert unknown.exit_code == 2 and "did you mean 'layer3_recent_activity'" in unknown.stderr
    no_dsn = invoke("run", "--select", "layer:3")
    assert no_dsn.exit_code == 2 and "ENGINE_SOURCE_DSN" in no_dsn.stderr


def test_unreachable_database_exits_3_without_password() -> None:
    result = invoke("run", "--select", "layer:3", "--as-of", AS_OF,
                    env={"ENGINE_SOURCE_DSN": "postgresql://u:topsecret@127.0.0.1:1/app",
                         "ENGINE_CONNECT_RETRIES": "0"})
    assert result.exit_code == 3
    assert "host=127.0.0.1 port=1" in result.stderr and "topsecret" not in result.stderr + result.stdout


def test_run_json_and_preview(app_db: str, tmp_path: Path) -> None:
    d = AppData(app_db)
    v = d.variant(d.product("P"))
    for i in range(3):
        d.inventory(d.user(f"O{i}", size="9"), v, created_at=ts("2026-01-01T00:00:00+00:00"))
    u = d.user("Ann", size="9")
    d.wishlist(u, v, created_at=hours_before(ts("2026-11-20T12:00:00+00:00"), 20))
    d.close()
    env = {"ENGINE_SOURCE_DSN": app_db, "ENGINE_STATE_DSN": app_db}
    result = invoke("--json", "run", "--select", "layer:3", "--as-of", AS_OF, "--out", str(tmp_path), env=env)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    [run] = payload["runs"]
    written = {o["file"]: o["rows"] for o in run["outputs"] if o["status"] == "written"}
    assert written == {"recent-wishlist-adders_20261120_120000.csv": 1,
                       "recent-wishlist-adders_TEST_20261120_120000.csv": 1}
    preview = invoke("--json", "preview", "layer3_recent_activity", "--as-of", AS_OF, env=env)
    assert preview.exit_code == 0
    sample = json.loads(preview.stdout)["preview"]["wishlist_adders"]
    assert sample["rows"][0][0] == u and sample["headers"][0] == "user_id"


def test_migrate_reports_version(empty_db: str) -> None:
    first = invoke("--json", "migrate", "--dsn", empty_db)
    again = invoke("--json", "migrate", "--dsn", empty_db)
    assert first.exit_code == again.exit_code == 0
    assert json.loads(first.stdout)["applied"][0] == "0001_init"
    assert json.loads(again.stdout)["applied"] == []
