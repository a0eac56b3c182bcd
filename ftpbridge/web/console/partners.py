"""The Partners page (the console's home): every partner at a glance, those in trouble
first, in words and colour; a chart per partner of rows applied and refused per day."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from ftpbridge.exchange.overview import CHART_DAYS, PAST_DUE_CAP, partners_overview
from ftpbridge.web.console.access import SignedIn
from ftpbridge.web.console.charts import daily_bars
from ftpbridge.web.console.rendering import console_of, render

router = APIRouter()


@router.get("/console/", response_class=HTMLResponse)
def partners_page(request: Request, session: SignedIn) -> Response:
    context = console_of(request)
    overview = partners_overview(context.store, context.settings)
    charts = {
        row.status["name"]: daily_bars(row.status["name"], row.days, row.applied, row.refused)
        for row in overview
    }
    trouble = [row for row in overview if row.in_trouble]
    return render(
        request,
        "partners.html",
        session,
        page="partners",
        title="Partners",
        partners=overview,
        charts=charts,
        trouble=trouble,
        chart_days=CHART_DAYS,
        past_due_cap=PAST_DUE_CAP,
    )
