"""Every integration test runs on both stores, so SQLite and PostgreSQL cannot drift."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import helpers


@pytest.fixture(autouse=True, params=["sqlite", "postgres"])
def store_backend(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path}/livechat.db"
    helpers.STORE["url"] = url
    yield url
    helpers.STORE["url"] = ""
