"""bench/soak.py's presence check compares each operator's view with the
cluster: the view must follow coalesced presence (`operators_changed`), not
only `operator_status`, or the soak reports mismatches that are not there."""

from __future__ import annotations

from bench.soak_ops import Operator


def test_the_soak_view_applies_operator_status_and_operators_changed():
    op = Operator("op-1", "ws://x", "t", [])
    op._frame({"type": "operator_status", "payload": {"admin_id": "b", "status": "online"}})
    op._frame(
        {
            "type": "operators_changed",
            "payload": {
                "operators": [
                    {"admin_id": "a", "status": "offline", "last_seen": "2026-01-01T00:00:00Z"},
                    {"admin_id": "c", "status": "online"},
                ]
            },
        }
    )
    assert op.view == {"a": "offline", "b": "online", "c": "online"}
