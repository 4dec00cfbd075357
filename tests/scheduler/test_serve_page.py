"""`engine scheduler` hosts the operator page only when a port is configured: /readyz says ready
once this replica's worker runs; a port another process holds is a one-line config error (exit 2)."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import httpx

from tests.scheduler.world import SchedWorld, automation_yaml, sched_db, sched_world  # noqa: F401


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_port_hosts_the_page_and_readyz_reports_the_worker(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_page", "page"))
    port = _free_port()
    proc = subprocess.Popen(
        sched_world.engine("scheduler", "--serve-port", str(port), "--heartbeat", "0.5"),
        env=sched_world.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        assert answer is not None and (answer.status_code, answer.text) == (200, "ready\n"), (
            proc.stderr.read().decode() if proc.poll() is not None and proc.stderr else answer
        )
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).text == "ok\n"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_a_taken_port_is_a_config_error(sched_world: SchedWorld) -> None:
    sched_world.write_automations(automation_yaml("a_page", "page"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # the port comes from the environment here (the flag's setting), like a replica's deployment would
        done = subprocess.run(
            sched_world.engine("scheduler"),
            env={**sched_world.env(), "ENGINE_SCHEDULER_SERVE_PORT": str(port), "ENGINE_LOG_FORMAT": "plain"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert f"127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
