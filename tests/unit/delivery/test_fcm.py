"""The FCM client's pure parts: the request body, and that it stands on public APIs only."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import engine.delivery.fcm as fcm
from engine.delivery.fcm import Push, encode_message

FCM_SOURCE = Path(fcm.__file__)


def test_the_body_is_the_v1_message_with_run_id_and_link() -> None:
    body = encode_message(Push("tok-1", "Hey 👟", 'say "hi"', "https://x.test/p?v=1", "send-1"))
    assert json.loads(body) == {
        "message": {
            "token": "tok-1",
            "notification": {"title": "Hey 👟", "body": 'say "hi"'},
            "data": {"run_id": "send-1", "click_action": "https://x.test/p?v=1", "url": "https://x.test/p?v=1"},
        }
    }
    assert b'": ' not in body and b'", "' not in body  # compact: no padding on the wire
    assert json.loads(encode_message(Push("t", "a", "b", None, "s")))["message"]["data"] == {"run_id": "s"}


def test_fcm_does_not_import_firebase_admin() -> None:
    """It calls FCM's HTTP v1 API itself: the SDK (and its private attributes) is gone for good."""
    tree = ast.parse(FCM_SOURCE.read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {name for name in imported if name.split(".")[0] == "firebase_admin"}
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, engine.delivery.api, engine.demo.fake_fcm;"
            "print(sorted(m for m in sys.modules if m.startswith('firebase_admin')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "[]"


def test_fcm_reaches_no_private_attribute() -> None:
    """No ``x._name`` on any object but our own (``self._...``), so a dependency's update cannot break it."""
    tree = ast.parse(FCM_SOURCE.read_text(encoding="utf-8"))
    private = [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
    ]
    assert private == []
