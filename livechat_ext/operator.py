"""`Operator`: who is behind an authenticated connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Operator:
    """An authenticated operator: `admin_id` is the token's `sub`, `name` its
    optional display name, `claims` every claim for the host's `authorize` hook."""

    admin_id: str
    name: str | None = None
    expires_at: datetime | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def display_name(self) -> str:
        return self.name or self.admin_id
