"""The ``ftpbridge`` command line (``ftpbridge.cli:main``).

``app`` holds the group, its global options and the error handling every command shares;
each other module adds the commands of one area.
"""

from ftpbridge.cli import (  # noqa: F401  (registers the commands)
    api,
    config,
    files,
    notify,
    orders,
    partners,
    service,
    skus,
    store,
)
from ftpbridge.cli.app import main

__all__ = ["main"]
