"""Log lines never carry DSN passwords, in the message or in structured extras."""

from __future__ import annotations

import json
import logging

import pytest

from engine.logs import setup_logging


@pytest.mark.parametrize("fmt", ["json", "plain"])
def test_passwords_are_masked_in_messages_and_extras(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(fmt)
    logging.getLogger("engine.test").info(
        "connecting to postgresql://app:hunter2@db/x", extra={"dsn": "host=db password=hunter2 dbname=x", "rows": 3}
    )
    err = capsys.readouterr().err
    assert "hunter2" not in err and "***" in err
    if fmt == "json":
        line = json.loads(err.strip().splitlines()[-1])
        assert line["rows"] == 3 and line["level"] == "info"
