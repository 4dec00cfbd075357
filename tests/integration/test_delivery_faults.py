"""FCM failures through the real SDK: retries, Retry-After, permanent errors, dead tokens, aborts."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from engine.delivery.pacing import RetryPolicy
from engine.demo.fake_fcm import write_service_account
from engine.errors import ConfigError, DatabaseUnavailable, DeliveryError
from tests.fakes.delivery import World, delivery_db, fake_fcm, world, write_csv  # noqa: F401


def csv_of(tmp_path: Path, ids: list[str], name: str = "a.csv") -> Path:
    return write_csv(tmp_path / name, ["user_id"], [[u] for u in ids])


def test_429_waits_for_retry_after(world: World, tmp_path: Path) -> None:
    [uid] = world.add_users(1)
    token = world.tokens[uid]
    world.fcm.script(token, "quota", times=1, retry_after=1)
    report = world.send(csv_of(tmp_path, [uid]), title="t", body="b", layer=1)
    assert (report.sent, report.retried_now) == (1, 1)
    first, second = world.fcm.attempt_times(token)
    assert second - first >= 1.0  # Retry-After: 1 honoured (a lower bound, not a speed figure)


def test_500_and_503_are_retried_until_accepted(world: World, tmp_path: Path) -> None:
    [uid] = world.add_users(1)
    token = world.tokens[uid]
    world.fcm.script(token, "internal", times=1)
    world.fcm.script(token, "unavailable", times=1)
    report = world.send(csv_of(tmp_path, [uid]), title="t", body="b", layer=1)
    assert (report.status, report.sent, report.retried_now) == ("completed", 1, 2)
    assert world.fcm.attempts()[token] == 3 and world.fcm.accepted()[token] == 1


def test_exhausted_retries_are_retried_by_the_next_run(world: World, tmp_path: Path) -> None:
    ok, flaky = world.add_users(2)
    world.fcm.script(world.tokens[flaky], "unavailable", times=3)  # FAST_RETRY makes 3 attempts
    csv = csv_of(tmp_path, [ok, flaky])
    first = world.send(csv, title="t", body="b", layer=1)
    assert (first.status, first.exit_code, first.sent, first.failed, first.remaining) == (
        "partial",
        1,
        1,
        {"UNAVAILABLE": 1},
        1,
    )
    second = world.send(csv, title="t", body="b", layer=1)
    assert (second.status, second.sent_now, second.sent, second.failed) == ("completed", 1, 2, {})
    assert world.fcm.attempts()[world.tokens[flaky]] == 4 and world.fcm.accepted()[world.tokens[ok]] == 1


def test_permanent_errors_are_not_retried(world: World, tmp_path: Path) -> None:
    ok, bad = world.add_users(2)
    world.fcm.script(world.tokens[bad], "invalid_argument")
    csv = csv_of(tmp_path, [ok, bad])
    report = world.send(csv, title="t", body="b", layer=1)
    assert (report.status, report.sent, report.failed, report.retried_now) == (
        "completed",
        1,
        {"INVALID_ARGUMENT": 1},
        0,
    )
    again = world.send(csv, title="t", body="b", layer=1)
    assert (again.sent_now, again.remaining) == (0, 0)
    assert world.fcm.attempts()[world.tokens[bad]] == 1


@pytest.mark.parametrize(
    "fault, code", [("unregistered", "UNREGISTERED"), ("sender_id_mismatch", "SENDER_ID_MISMATCH")]
)
def test_dead_tokens_are_recorded_and_excluded_later(world: World, tmp_path: Path, fault: str, code: str) -> None:
    ok, dead = world.add_users(2)
    world.fcm.script(world.tokens[dead], fault)
    first = world.send(csv_of(tmp_path, [ok, dead]), title="t", body="b", layer=1)
    assert (first.failed, first.dead_tokens_now) == ({code: 1}, 1)
    assert world.query(
        "SELECT code, user_id::text FROM engine.dead_tokens WHERE token = %s", (world.tokens[dead],)
    ) == [(code, dead)]
    later = world.send(csv_of(tmp_path, [ok, dead], "later.csv"), title="another push", body="b", layer=1)
    assert later.skipped == {f"dead_token:{code}": 1} and later.sent == 1
    assert world.fcm.attempts()[world.tokens[dead]] == 1  # never tried again


def test_third_party_auth_error_aborts_and_resume_finishes(world: World, tmp_path: Path) -> None:
    ids = world.add_users(5)
    broken = world.tokens[ids[0]]
    world.fcm.script(broken, "third_party_auth")
    one_at_a_time = world.with_settings(fcm_concurrency=1)
    csv = csv_of(tmp_path, ids)
    report = one_at_a_time.send(csv, title="t", body="b", layer=1)
    assert (report.status, report.exit_code, report.sent_now, report.remaining) == ("aborted", 1, 0, 5)
    assert "APNs" in report.message and "resume with the same command" in report.message
    assert set(world.fcm.attempts()) == {broken}  # nothing else was handed to FCM
    world.fcm.heal()  # the APNs key is fixed
    resumed = one_at_a_time.send(csv, title="t", body="b", layer=1)
    assert (resumed.status, resumed.sent, resumed.resumed) == ("completed", 5, True)
    assert sorted(world.fcm.accepted().values()) == [1] * 5


def test_rejected_credentials_abort_before_the_ledger_moves(world: World, tmp_path: Path) -> None:
    [uid] = world.add_users(1)
    world.fcm.reject_oauth("invalid_grant")
    csv = csv_of(tmp_path, [uid])
    with pytest.raises(DeliveryError, match=r"rejected by the OAuth server.*invalid_grant"):
        world.send(csv, title="t", body="b", layer=1)
    assert world.query("SELECT count(*) FROM engine.sends WHERE source_file = %s", (str(csv),)) == [(0,)]
    with pytest.raises(ConfigError, match="no FCM credentials configured") as info:
        world.with_settings(fcm_credentials=None).send(csv, title="t", body="b", layer=1)
    assert "ENGINE_FCM_CREDENTIALS" in (info.value.hint or "")


def test_network_failure_then_resume(world: World, tmp_path: Path) -> None:
    ids = world.add_users(3)
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    csv = csv_of(tmp_path, ids)
    down = world.with_settings(fcm_endpoint=f"http://127.0.0.1:{dead_port}")
    first = down.send(csv, title="t", body="b", layer=1)
    assert (first.status, first.sent, first.failed) == ("partial", 0, {"UNAVAILABLE": 3})
    second = world.send(csv, title="t", body="b", layer=1)
    assert (second.status, second.sent) == ("completed", 3)
    assert sorted(world.fcm.accepted().values()) == [1] * 3


def test_global_rate_limit_spaces_requests(world: World, tmp_path: Path) -> None:
    ids = world.add_users(6)
    slow_rate = world.with_settings(fcm_rate_per_minute=600, fcm_concurrency=1)  # one every 0.1 s, burst 1
    started = time.monotonic()
    report = slow_rate.send(csv_of(tmp_path, ids), title="t", body="b", layer=1, retry=RetryPolicy(max_attempts=1))
    assert report.sent == 6
    times = sorted(t for u in ids for t in world.fcm.attempt_times(world.tokens[u]))
    # six sends are scheduled five intervals (0.5 s) apart; arrival times jitter (the first one also
    # opens the connection), so allow slack: unlimited, these six take a few milliseconds
    assert times[-1] - times[0] >= 0.4
    assert times[0] >= started


def test_a_retry_does_not_hold_back_the_other_pushes(world: World, tmp_path: Path) -> None:
    ids = world.add_users(20)
    slow = world.tokens[ids[0]]
    world.fcm.script(slow, "quota", times=1, retry_after=1)
    report = world.send(csv_of(tmp_path, ids), title="t", body="b", layer=1, max_in_doubt=5)
    assert (report.status, report.sent, report.retried_now) == ("completed", 20, 1)
    first, second = world.fcm.attempt_times(slow)
    others = [t for u in ids[1:] for t in world.fcm.attempt_times(world.tokens[u])]
    # the other 19 went out while the first message waited out its Retry-After
    assert second - first >= 1.0 and max(others) < second
    # never more than five claimed and unrecorded at once, the waiting retry included
    assert report.max_in_doubt_now <= 5


def test_credentials_rejected_mid_send_abort(world: World, tmp_path: Path) -> None:
    ids = world.add_users(3)
    world.fcm.short_lived_tokens(60)  # google-auth refreshes a token this close to expiry before each request
    world.fcm.reject_oauth("invalid_grant", after=1)  # the preflight gets its token, later refreshes fail
    csv = csv_of(tmp_path, ids)
    report = world.with_settings(fcm_concurrency=1).send(csv, title="t", body="b", layer=1)
    assert (report.status, report.sent, report.remaining, report.exit_code) == ("aborted", 0, 3, 1)
    assert "rejected while refreshing the access token: invalid_grant" in report.message
    assert world.fcm.attempts() == {}  # no message left without a token
    world.fcm.heal()
    assert world.send(csv, title="t", body="b", layer=1).sent == 3


def test_wrong_project_aborts_with_a_clear_message(world: World, tmp_path: Path) -> None:
    ids = world.add_users(2)
    other = write_service_account(tmp_path / "other.json", token_uri=world.fcm.token_uri, project_id="other-project")
    report = world.with_settings(fcm_credentials=other, fcm_concurrency=1).send(
        csv_of(tmp_path, ids), title="t", body="b", layer=1
    )
    assert (report.status, report.sent, report.remaining) == ("aborted", 0, 2)
    assert "project or endpoint was not found" in report.message


def test_losing_the_state_database_mid_send_then_resume(world: World, tmp_path: Path) -> None:
    ids = world.add_users(60)
    csv = csv_of(tmp_path, ids)
    world.fcm.slow(0.02)

    def cut_the_ledger_connection() -> None:
        deadline = time.monotonic() + 30
        while sum(world.fcm.accepted().values()) < 20 and time.monotonic() < deadline:
            time.sleep(0.005)
        world.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'audience-engine-send' AND datname = current_database()"
        )

    cutter = threading.Thread(target=cut_the_ledger_connection)
    cutter.start()
    with pytest.raises(DatabaseUnavailable, match="lost the state database") as info:
        world.with_settings(fcm_concurrency=2).send(csv, title="t", body="b", layer=1, max_in_doubt=10)
    cutter.join()
    assert "resume with the same command" in (info.value.hint or "")
    world.fcm.heal()
    report = world.send(csv, title="t", body="b", layer=1)
    received = {u: world.fcm.accepted()[world.tokens[u]] for u in ids}
    # at most once: nobody twice; whoever got nothing is one of the rows left in flight
    assert max(received.values()) == 1
    assert report.sent + report.in_flight_unknown == 60
    assert sum(1 for n in received.values() if n == 0) <= report.in_flight_unknown <= 10
    assert report.status == ("completed_in_doubt" if report.in_flight_unknown else "completed")
