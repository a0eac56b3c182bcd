"""ftpbridge's benchmark: export, import, re-import, transfers and polling at N order lines,
each next to its floor (the plainest code doing the same job), in one run.

    .venv/bin/python -m bench --lines 1000000

See ``bench/__main__.py`` for the options and ``docs/benchmarks.md`` for a recorded run.
"""
