"""A browser tour of the UI for each role (developer, ops, auditor), at 1400 px and at 320 px, on demo data.

It walks the pages a role reaches by following links from the overview (so a new page is toured as
soon as something links to it) and fails on a server error or a broken link, a console error, a page
that scrolls sideways, a Python-style value (``True``, ``None``, ``{'``) in the text, or a serious or
critical axe-core violation (axe-core is vendored under tests/e2e/vendor, not served). Each page's
screenshot is saved under ``var/tour/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.utils import timezone

from deployments import services
from deployments.alarms.services import alarms_receive, alertmanager_alerts
from deployments.choices import DeploymentStatus, RunStatus
from deployments.models import Run, RunLogLine
from deployments.policy import services as decisions
from tests.conftest import PASSWORD
from tests.deployments.test_policy import PRODUCTION_OVERLAY, set_overlays
from tests.e2e.conftest import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# The page's Content-Security-Policy allows scripts from 'self' only, and the tour keeps it on: Playwright
# answers this same-origin URL with the vendored file, so axe loads as the page's own scripts do.
AXE_URL = "/__tour__/axe.min.js"
SHOTS = Path(settings.BASE_DIR) / "var" / "tour"
WIDTHS = (1400, 320)
MAX_PAGES = 40
# Not pages of the UI: sign-out, downloads and exports, the admin and the API (their own tools), the
# sandbox cloud (another product), and links that only change a list's sort or page.
SKIP = re.compile(r"^/(accounts/logout|admin|api|sandbox|static|state)/|[?&](format|export|page|sort|ordering)=|/logs/")
PYTHON_REPR = re.compile(r"\{'|\['|: (True|False|None)[,}]")
PYTHON_VALUE = re.compile(r"^(True|False|None)$|(?<![\w-])(True|False|None)(?=[,}\]])")
# An id, a UUID, a date: pages that differ only by these are the same page to the tour.
SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f-]{27}|\d+")
# One bundle's catalog page or form stands for all (the fixture bundles' forms are toured by their own tests).
BUNDLE_PAGE = re.compile(r"^/(catalog|deployments/new)/[a-z0-9-]+/")


@pytest.fixture
def demo(dev, ops, auditor, catalog, proto_env, prod_env):
    """What a morning on the demo looks like: a live database with its run and log, a change waiting for
    ops, a destroyed bucket, and an exception request."""
    db = services.deployment_create(
        environment=proto_env,
        name="orders-db",
        bundle_version=catalog["postgres"],
        params={"size": "small", "storage_gb": 20},
        actor=dev,
        reason="orders service needs a database",
    )
    run = db.runs.get()
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        plan_summary={"add": 1, "change": 0, "replace": 0, "destroy": 0, "total": 1, "resources": [], "outputs": {}},
    )
    RunLogLine.objects.bulk_create(
        RunLogLine(run=run, seq=i, text=text)
        for i, text in enumerate(
            ["Initializing the backend...", "Plan: 1 to add, 0 to change, 0 to destroy.", "Apply complete!"]
        )
    )
    db.status = DeploymentStatus.LIVE
    db.outputs = {"host": "orders-db.checkout-proto.internal", "port": 5432}
    db.save()
    services.deployment_update(
        deployment=db, params={"size": "medium", "storage_gb": 40}, actor=dev, reason="more room for Black Friday"
    )
    Run.objects.filter(deployment=db, status=RunStatus.QUEUED).update(status=RunStatus.AWAITING_APPROVAL)
    # Its storage alarm fires (pages: the deployment's Alarms card, the overview, the canvas badge).
    alarms_receive(
        deployment=db,
        alerts=alertmanager_alerts(
            {
                "version": "4",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": "storage-almost-full", "severity": "warning"},
                        "annotations": {"summary": "The database's disk is at least 80 % full."},
                        "startsAt": "2026-12-03T21:00:00Z",
                        "fingerprint": "tour",
                    }
                ],
            }
        ),
    )
    bucket = services.deployment_create(
        environment=proto_env, name="assets", bundle_version=catalog["object-storage"], params={}, actor=dev
    )
    Run.objects.filter(deployment=bucket).update(status=RunStatus.SUCCEEDED)
    bucket.status = DeploymentStatus.DESTROYED
    bucket.save()
    set_overlays(prod_env, PRODUCTION_OVERLAY)
    decisions.exception_request_create(
        environment=prod_env,
        bundle_version=catalog["postgres"],
        name="reports-db",
        params={"size": "small", "storage_gb": 20, "high_availability": False},
        reason="a read-only copy for one quarter",
        actor=dev,
    )
    return {"dev": dev, "ops": ops, "auditor": auditor}


def _shape(path: str) -> str:
    """Pages that differ only by an id, a bundle or a filter are one page to the tour."""
    path = path.split("?", 1)[0]
    return BUNDLE_PAGE.sub(lambda m: f"/{m.group(1)}/B/", SHAPE.sub("N", path))


def _check(page, role: str, width: int, path: str, problems: list[str]) -> None:
    where = f"{role} {width}px {path}"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 1:
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right >
                 window.innerWidth + 1 && !e.closest('.log, .table-wrap, pre, .scroll-x')).slice(0, 3)
                 .map(e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ')[0] : ''))"""
        )
        problems.append(f"{where}: scrolls sideways by {overflow}px ({', '.join(wide)})")
    # A value shown Python-style: a dict or list repr anywhere, or True/False/None as a value (a table
    # cell, a definition, code), where prose ("None yet") and a bundle's own labels are not flagged.
    text = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
    values = page.eval_on_selector_all("main td, main dd, main code", "els => els.map(e => e.innerText.trim())")
    found = {m.group(0) for m in PYTHON_REPR.finditer(text)}
    found |= {v for v in values if PYTHON_VALUE.search(v)}
    problems.extend(f"{where}: Python-style value {v!r}" for v in sorted(found))
    page.add_script_tag(url=AXE_URL)
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
             .filter(v => v.impact === 'serious' || v.impact === 'critical')
             .map(v => `${v.impact} ${v.id}: ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`)"""
    )
    problems.extend(f"{where}: axe {v}" for v in violations)
    SHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^a-z0-9]+", "-", f"{role}-{width}-{path}".lower()).strip("-")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _tour(browser, live_server, role: str, width: int) -> tuple[list[str], list[str]]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 900})
    context.set_default_timeout(15000)
    context.route(f"**{AXE_URL}", lambda route: route.fulfill(path=AXE, content_type="text/javascript"))
    page = context.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda m: errors.append(f"{page.url}: console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    login(page, role, PASSWORD)
    problems: list[str] = []
    seen_shapes: set[str] = set()
    queue, visited = ["/"], []
    while queue and len(visited) < MAX_PAGES:
        path = queue.pop(0)
        if _shape(path) in seen_shapes:
            continue
        seen_shapes.add(_shape(path))
        response = page.goto(path)
        visited.append(path)
        if response is None or response.status >= 400:
            problems.append(f"{role} {width}px {path}: HTTP {response.status if response else 'no response'}")
            continue
        page.wait_for_load_state("networkidle")
        _check(page, role, width, path, problems)
        for href in page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))"):
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if not SKIP.search(target) and _shape(target) not in seen_shapes:
                queue.append(target)
    problems.extend(errors)
    context.close()
    return problems, visited


@pytest.mark.parametrize("role", ["dev", "ops", "auditor"])
def test_every_page_reads_well_for_each_role_at_both_widths(browser, live_server, demo, role):
    problems, toured = [], []
    for width in WIDTHS:
        found, visited = _tour(browser, live_server, role, width)
        problems += found
        toured.append(len(visited))
    assert min(toured) >= 5, f"the tour reached too few pages: {toured}"
    assert not problems, "\n".join(problems)
