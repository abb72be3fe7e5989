"""`livechat-ext demo` as a user runs it: its state outlives a restart, and
Ctrl+C or SIGTERM stop it cleanly."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.conftest import free_port
from tests.e2e.conftest import DemoServer


def test_the_demo_keeps_its_state_and_stops_cleanly(tmp_path: Path, store_backend: str) -> None:
    """With its own store in the data folder (SQLite) or with --store-url (PostgreSQL):
    the simulated users are kept either way."""
    store_url = store_backend if store_backend.startswith("postgresql") else None
    demo = DemoServer(free_port(), tmp_path / "data", store_url).start()
    try:
        aiko = demo.new_user("Aiko")
        demo.say(aiko, "Is my order on its way?")
        code, output = demo.interrupt(signal.SIGINT)  # Ctrl+C
        assert code == 0 and "Traceback" not in output and "KeyboardInterrupt" not in output
        assert "demo stopped" in output
        assert (tmp_path / "data" / "demo" / "simulator.json").is_file()
        assert (tmp_path / "data" / "demo" / "demo.db").is_file() == (store_url is None)

        demo.start()
        users = demo.get("/live-chat/simulator/api/users")
        assert [(u["user_id"], u["display_name"]) for u in users] == [(aiko, "Aiko")]
        phone = demo.get(f"/live-chat/simulator/api/users/{aiko}/messages")
        assert [m["text"] for m in phone] == ["Is my order on its way?"]
        history = demo.get(f"/live-chat/api/conversations/{aiko}/messages", demo.token)
        assert [m["text"] for m in history["messages"]] == ["Is my order on its way?"]
        code, output = demo.interrupt(signal.SIGTERM)
        assert code == 0 and "Traceback" not in output

        demo.fresh = True  # --fresh: start over
        demo.start()
        assert demo.get("/live-chat/simulator/api/users") == []
        if store_url is None:  # --fresh forgets the data folder's store, not another one
            assert demo.get("/live-chat/api/conversations", demo.token)["conversations"] == []
    finally:
        demo.stop()
