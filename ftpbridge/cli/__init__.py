"""The ``ftpbridge`` command line (``ftpbridge.cli:main``)."""

from ftpbridge.cli.app import main

__all__ = ["main"]
