"""A run folder is committed by its manifest: every file it names is whole and durable before it exists.

engine.outputs.atomic: each output is written under a temp name, its data fsynced, renamed; the folder is
fsynced once; then manifest.json is written the same way and the folder fsynced again. These tests run a
real audience and break real writes (a directory in the way, a file size limit that stops a write
half-way): nothing of PostgreSQL is mocked; ``os.fsync`` is only observed, to see what was synced when.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from engine import api
from engine.config import Settings, resolve
from engine.outputs import atomic
from engine.outputs.atomic import write_atomic
from engine.runs.model import MANIFEST, OutputStatus, RunStatus, read_manifest
from engine.timeutil import parse_as_of
from tests.fixtures.appdata import AppData
from tests.security.project import TWO_OUTPUTS, build

AS_OF = "2026-11-20T12:00:00Z"
STAMP = "20261120_120000"


def _settings(app_db: str, tmp_path: Path) -> Settings:
    data = AppData(app_db)
    for name in ("Ann", "Bob"):
        data.user(name)
    project = build(tmp_path / "project", audience=TWO_OUTPUTS)
    return resolve(
        {"source_dsn": app_db, "output_dir": tmp_path / "out", "project_dir": project, "connect_retries": 0},
        env={},
    )


def _run(settings: Settings, run_id: str) -> api.RunResult:
    [result] = api.run(
        settings, selectors=["target"], as_of=parse_as_of(AS_OF), variables={"name": "Ann"}, run_id=run_id
    )
    return result


def _assert_manifest_trustworthy(run_dir: Path) -> None:
    """Every file the manifest names with a checksum is there, whole; no temp file is left."""
    manifest = read_manifest(run_dir)
    named = [o for o in manifest.outputs if o.status is OutputStatus.WRITTEN]
    assert named
    for output in named:
        path = run_dir / output.file
        assert path.is_file(), output.file
        assert hashlib.sha256(path.read_bytes()).hexdigest() == output.sha256
    assert not list(run_dir.glob(".*.tmp"))


def _fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name a synced file descriptor")
def test_outputs_are_synced_then_the_folder_once_then_the_manifest(
    app_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(app_db, tmp_path)
    run_id = str(uuid.uuid4())
    run_dir = tmp_path / "out" / "target" / f"{STAMP}_{run_id[:8]}"
    synced: list[tuple[str, bool]] = []  # (path fsynced, manifest.json there already)
    real_fsync = os.fsync

    def observed(fd: int) -> None:
        synced.append((_fd_path(fd), (run_dir / MANIFEST).exists()))
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", observed)
    result = _run(settings, run_id)
    monkeypatch.undo()

    assert result.ok and result.manifest.status is RunStatus.SUCCEEDED
    _assert_manifest_trustworthy(run_dir)
    folder = [i for i, (path, _) in enumerate(synced) if path == str(run_dir)]
    files = [i for i, (path, _) in enumerate(synced) if Path(path).parent == run_dir]
    # the run folder is synced twice: once before the manifest (the outputs' names), once after it
    assert [synced[i][1] for i in folder] == [False, True]
    before, after = folder
    # every output's data is synced under its temp name before the folder; the manifest's between the two
    # (files written after the commit, like the run report, are not the manifest's)
    names = {i: Path(synced[i][0]).name for i in files}
    outputs = [f".{o.file}." for o in result.manifest.outputs if o.status is OutputStatus.WRITTEN]
    for prefix in outputs:
        data = [i for i, name in names.items() if name.startswith(prefix)]
        assert len(data) == 1 and data[0] < before and names[data[0]].endswith(".tmp"), prefix
    manifest = [i for i, name in names.items() if name.startswith(f".{MANIFEST}.") and name.endswith(".tmp")]
    assert len(manifest) == 1 and before < manifest[0] < after
    # the run folder's own name, new in its audience folder, is synced too
    assert str(run_dir.parent) in [path for path, _ in synced]


def test_a_directory_in_the_way_fails_that_output_and_the_manifest_names_only_whole_files(
    app_db: str, tmp_path: Path
) -> None:
    settings = _settings(app_db, tmp_path)
    run_id = str(uuid.uuid4())
    run_dir = tmp_path / "out" / "target" / f"{STAMP}_{run_id[:8]}"
    (run_dir / f"second_{STAMP}.csv").mkdir(parents=True)  # the CSV cannot replace a directory

    result = _run(settings, run_id)

    assert not result.ok and result.manifest.status is RunStatus.PARTIAL
    second = result.manifest.output("second", test=False)
    assert second is not None and second.status is OutputStatus.FAILED and second.sha256 is None
    assert (run_dir / f"second_{STAMP}.csv").is_dir()  # no partial file took its name
    _assert_manifest_trustworthy(run_dir)


_HALF_WRITE = """
import resource, signal, sys
from pathlib import Path
from engine.outputs.atomic import write_atomic
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead of killing us
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
try:
    write_atomic(Path(sys.argv[1]), b"x" * 100_000)
except OSError as err:
    print(err.errno)
    raise SystemExit(0)
raise SystemExit("the write did not fail")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file size limit")
def test_a_write_failing_half_way_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    import errno  # noqa: PLC0415

    target = tmp_path / "run" / "out.csv"
    old = write_atomic(target, b"user_id\r\nold\r\n")
    proc = subprocess.run([sys.executable, "-c", _HALF_WRITE, str(target)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == errno.EFBIG  # 4096 bytes were written, then the disk (limit) refused
    assert hashlib.sha256(target.read_bytes()).hexdigest() == old  # the final name still holds the whole old file
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.csv"]  # the half-written temp is gone
