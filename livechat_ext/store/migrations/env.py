"""Alembic's environment for the plugin's own migrations.

Run only through `livechat_ext.store.migrate`, which hands over an open
connection (already in a transaction, under the schema lock) in
`config.attributes["connection"]`; there is no offline mode."""

from __future__ import annotations

from alembic import context

from livechat_ext.store.migrate import VERSION_TABLE

connection = context.config.attributes["connection"]
# the plugin's own version table: a host's Alembic history lives beside it untouched
context.configure(connection=connection, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
