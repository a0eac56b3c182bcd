"""The ``db`` commands: the order store's schema."""

from __future__ import annotations

import click

from ftpbridge.cli.app import Context, friendly_errors, main, pass_state


@main.group()
def db() -> None:
    """The order store's schema."""


@db.command("upgrade")
@pass_state
@friendly_errors
def db_upgrade(state: Context) -> None:
    """Create the store's tables, or migrate them to this version."""
    from ftpbridge.store import open_store

    store = open_store(state.settings.store_url, migrate=False)
    before, _head = store.revision()
    store.upgrade()
    after, _ = store.revision()
    if before == after:
        click.echo(f"The store {store.url_for_people} is up to date (revision {after}).")
    else:
        click.echo(
            f"The store {store.url_for_people} migrated from {before or 'empty'} to {after}."
        )
