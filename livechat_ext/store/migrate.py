"""Schema migrations with Alembic, in the plugin's own version table.

The migration scripts ship inside the package (`migrations/`). A database made
before migrations existed (tables, no version table) is stamped with the
baseline revision, which is exactly that schema, and then upgraded. Every
function here takes a synchronous connection already in a transaction (run
them through `AsyncConnection.run_sync`), so the caller's lock covers them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection, inspect

from ..errors import StoreError

VERSION_TABLE = "livechat_alembic_version"
"""The plugin's Alembic version table (a host's own `alembic_version` is left alone)."""
BASELINE = "0001_baseline"
"""The revision equal to the schema made before migrations existed."""
UPGRADE_COMMAND = "livechat-ext db upgrade"
_MIGRATIONS = Path(__file__).with_name("migrations")
_LEGACY_TABLE = "livechat_conversations"


class SchemaError(StoreError):
    """The database's schema is not the one this code needs."""


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands: `current` is its revision (None: no schema, or
    one made before migrations when `legacy`), `head` this code's."""

    current: str | None
    head: str
    legacy: bool

    @property
    def empty(self) -> bool:
        """No table of the plugin at all."""
        return self.current is None and not self.legacy

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise SchemaError(f"no migrations found in {_MIGRATIONS}")
    return head


def schema_state(connection: Connection) -> SchemaState:
    """The database's revision; raises `SchemaError` for one this code does not know
    (a newer release upgraded it)."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    heads = context.get_current_heads()
    head = head_revision()
    if not heads:
        legacy = inspect(connection).has_table(_LEGACY_TABLE)
        return SchemaState(None, head, legacy)
    current = heads[0]
    if len(heads) > 1 or not _known_revision(current):
        raise SchemaError(
            f"the database schema is at revision {', '.join(heads)}, which this version of "
            "livechat_ext does not know: it was upgraded by a newer release"
        )
    return SchemaState(current, head, False)


def _known_revision(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(_config()).get_revision(revision) is not None
    except RevisionError:
        return False


def _known(connection: Connection) -> SchemaState:
    try:
        return schema_state(connection)
    except CommandError as exc:  # an unknown revision in the version table
        raise SchemaError(f"the database schema is unknown to this release: {exc}") from exc


def upgrade(connection: Connection) -> SchemaState:
    """Bring the schema to the head revision, stamping a pre-migration database
    with the baseline first. Returns the state it started from."""
    before = _known(connection)
    if before.up_to_date:
        return before
    config = _config(connection)
    try:
        if before.legacy:
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")
    except CommandError as exc:
        raise SchemaError(f"the schema could not be upgraded: {exc}") from exc
    return before


def require_current(connection: Connection) -> SchemaState:
    """Raise `SchemaError`, naming the command to run, unless the schema is at the head."""
    state = _known(connection)
    if not state.up_to_date and not state.empty:
        at = state.current or "from before migrations"
        raise SchemaError(
            f"the database schema is behind this version of livechat_ext "
            f"(at {at}, needs {state.head}): run `{UPGRADE_COMMAND}` "
            "(with the same LIVECHAT_STORE_URL) before starting"
        )
    return state
