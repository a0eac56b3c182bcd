"""``GET /healthz`` (no key: 200 when the store answers, else 503) and ``GET /metrics``
(Prometheus text format, no key: put it behind the proxy's rules if it must not be public).

The store's figures are read at scrape time by :class:`StoreCollector`: items by partner
and status, ledger files by partner, direction and state, and per partner and job the
last run, last success and consecutive failures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from ftpbridge.errors import FtpbridgeError
from ftpbridge.store import Store
from ftpbridge.store.items import count_by_status
from ftpbridge.store.limits import statement_deadline
from ftpbridge.store.schema import files
from ftpbridge.store.state import all_job_states
from ftpbridge.web.context import context_of

logger = structlog.get_logger()
router = APIRouter(tags=["health"])

HEALTH_TIMEOUT_SECONDS = 5.0
SCRAPE_TIMEOUT_SECONDS = 10.0
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _store_answers(store: Store) -> None:
    with store.connect() as connection, statement_deadline(connection, HEALTH_TIMEOUT_SECONDS):
        connection.exec_driver_sql("SELECT 1").scalar()


@router.get("/healthz", summary="Health: does the store answer?")
async def healthz(request: Request) -> Response:
    context = context_of(request)
    try:
        await run_in_threadpool(_store_answers, context.store)
    except FtpbridgeError as exc:
        logger.warning("health check: the store does not answer", error=exc.message)
        return Response(
            content=b'{"status":"error","reason":"the store does not answer"}',
            status_code=503,
            media_type="application/json",
        )
    return Response(content=b'{"status":"ok"}', media_type="application/json")


@router.get("/metrics", summary="Prometheus metrics")
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.store_metrics
    process = await run_in_threadpool(generate_latest, REGISTRY)
    store = await run_in_threadpool(generate_latest, registry)
    return Response(content=process + store, media_type=PROMETHEUS_TEXT)


class StoreCollector(Collector):
    """Prometheus collector reading the store at every scrape (bounded in time)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("ftpbridge_store_up", "1 when the store answered this scrape.")
        try:
            figures = self._read()
        except FtpbridgeError as exc:
            logger.warning("metrics: the store does not answer", error=exc.message)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from figures

    def _read(self) -> list[Metric]:
        with (
            self.store.connect() as connection,
            statement_deadline(connection, SCRAPE_TIMEOUT_SECONDS),
        ):
            counts = count_by_status(connection)
            ledger_rows = connection.execute(
                select(files.c.partner, files.c.direction, files.c.state, func.count()).group_by(
                    files.c.partner, files.c.direction, files.c.state
                )
            ).all()
            jobs = all_job_states(connection)
        items = GaugeMetricFamily(
            "ftpbridge_items",
            "Items in the store by partner and status.",
            labels=["partner", "status"],
        )
        for (partner, status), count in sorted(counts.items(), key=lambda pair: str(pair[0])):
            items.add_metric([partner or "", status], count)
        ledger = CounterMetricFamily(
            "ftpbridge_files",
            "Files in the ledger by partner, direction (import, export, orders) and state"
            " (applied, rejected, uploaded, served, ...).",
            labels=["partner", "direction", "state"],
        )
        for partner, direction, state, count in ledger_rows:
            ledger.add_metric([partner, direction, state], count)
        last_success = GaugeMetricFamily(
            "ftpbridge_job_last_success_timestamp_seconds",
            "When the partner's job (poll, export) last worked, as a Unix time.",
            labels=["partner", "job"],
        )
        last_run = GaugeMetricFamily(
            "ftpbridge_job_last_run_timestamp_seconds",
            "When the partner's job last ran, as a Unix time.",
            labels=["partner", "job"],
        )
        failures = GaugeMetricFamily(
            "ftpbridge_job_consecutive_failures",
            "Failures in a row of the partner's job (0 after a success).",
            labels=["partner", "job"],
        )
        for (partner, job), state in sorted(jobs.items()):
            labels = [partner, job]
            failures.add_metric(labels, state.get("consecutive_failures") or 0)
            for family, key in ((last_success, "last_success_at"), (last_run, "last_run_at")):
                moment: Any = state.get(key)
                if moment is not None:
                    family.add_metric(labels, moment.timestamp())
        return [items, ledger, last_success, last_run, failures]


def store_registry(store: Store) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return registry
