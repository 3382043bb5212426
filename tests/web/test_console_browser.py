"""The reviewer console and the dashboard in Debian's Chromium against a real server: a reviewer
signs in, works the queue with the keyboard, decides a case, labels it, and the decision shows in
the API and the audit log; alerts are acknowledged; the dashboard shows the metrics API's numbers."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from documents.render import Identity, camera, on_table, render_td1
from PIL import Image, ImageFilter
from support.imagefiles import encode
from web.browser import chromium
from web.conftest import Web

pytestmark = [pytest.mark.slow]
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def cases(web: Web, fr_test_images: Path) -> dict[str, dict[str, Any]]:
    """Real /verify calls: the holder's selfie slightly blurred twice (passive liveness uncertain:
    manual_review, so two review cases) and another person's face (rejected: a face-mismatch
    alert)."""
    card = render_td1(
        np.asarray(Image.open(fr_test_images / "obama.jpg").convert("RGB")),
        Identity(surname="OBAMA", given_names="BARACK", document_number="D23145890"),
    )
    card_jpeg = encode(camera(on_table(card.image, tilt=0.05, angle_deg=-2)))
    holder = Image.open(fr_test_images / "obama2.jpg")
    out: dict[str, dict[str, Any]] = {}
    for name, selfie in (
        ("blurred-1", holder.filter(ImageFilter.GaussianBlur(1.5))),
        ("blurred-2", holder.filter(ImageFilter.GaussianBlur(1.6))),
        ("other", Image.open(fr_test_images / "biden.jpg")),
    ):
        buf = io.BytesIO()
        selfie.convert("RGB").save(buf, "JPEG", quality=90)
        with web.api() as c:
            r = c.post(
                "/api/v1/verify",
                files={
                    "id_document": ("id.jpg", card_jpeg, "image/jpeg"),
                    "selfie": ("selfie.jpg", buf.getvalue(), "image/jpeg"),
                },
                data={"user_id": f"console-{name}"},
            )
        assert r.status_code == 200, r.text
        out[name] = r.json()
    assert out["blurred-1"]["status"] == out["blurred-2"]["status"] == "manual_review"
    assert out["other"]["status"] == "rejected"
    return out


def _page(browser: Any) -> Any:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    context.on("console", lambda m: print(f"console.{m.type}: {m.text}"))
    context.on("weberror", lambda e: print(f"page error: {e.error}"))
    context.on(
        "response", lambda r: r.status >= 400 and print(f"{r.request.method} {r.url} -> {r.status}")
    )
    return context.new_page()


def _sign_in(page: Any, web: Web, role: str = "reviewer") -> None:
    page.get_by_label("API key").fill(web.server.key(role, None))
    page.get_by_role("button", name="Sign in").click()


def _review(web: Web, review_id: str) -> dict[str, Any]:
    with web.api("reviewer") as c:
        r = c.get(f"/api/v1/reviews/{review_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_reviewer_decides_a_case_with_the_keyboard(
    web: Web, cases: dict[str, dict[str, Any]], shots: Any
) -> None:
    with web.api("reviewer") as c:
        queue = c.get("/api/v1/reviews", params={"status": "open"}).json()["items"]
    mine = [i for i in queue if i["user_id"] in ("console-blurred-1", "console-blurred-2")]
    assert len(mine) == 2, queue
    with chromium(None) as browser:
        page = _page(browser)
        page.goto(f"{web.base_url}/console")
        page.get_by_role("heading", name="Sign in").wait_for()
        # a key of the wrong role is refused with a plain message
        _sign_in(page, web, "auditor")
        page.get_by_text("needs the reviewer role").wait_for()
        _sign_in(page, web)
        page.get_by_role("heading", name="Review queue").wait_for()
        shots(page, "console-1-queue", readme=True)
        shown = page.locator("table.queue tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.id)"
        )
        assert shown == [i["id"] for i in queue]  # the server's order: riskiest, then oldest
        # the key is in memory only
        stored = page.evaluate(
            "() => [localStorage.length, sessionStorage.length, document.cookie.length]"
        )
        assert stored == [0, 0, 0]

        first = queue[0]
        page.keyboard.press("Enter")
        page.wait_for_selector(f"[data-case='{first['id']}']")
        page.locator("img[data-kind]").first.wait_for()
        page.wait_for_function(
            "() => [...document.querySelectorAll('img[data-kind]')].every(i => i.complete && i.naturalWidth > 0)"
        )
        kinds = page.locator("img[data-kind]").evaluate_all("imgs => imgs.map(i => i.dataset.kind)")
        assert kinds[:2] == ["document_portrait", "selfie"], kinds
        page.get_by_role("button", name="Rotate selfie").click()
        page.get_by_role("button", name="Zoom in selfie").click()
        assert "rotate(90deg)" in page.locator("img[data-kind=selfie]").get_attribute("style")
        shots(page, "console-2-case", readme=True)

        page.keyboard.press("c")  # claim
        page.wait_for_selector(f"[data-case='{first['id']}'][data-status=claimed]")
        page.keyboard.press("r")  # reject
        page.get_by_label("Reason").select_option("FACE_UNCLEAR")
        page.locator("body").press("f")  # label: fraud
        page.get_by_label("Notes").fill("selfie too soft to compare; asked nobody")
        shots(page, "console-3-decision")
        page.keyboard.press("Control+Enter")
        # the next open case loads after the decision
        second = next(i for i in queue if i["id"] != first["id"])
        page.wait_for_selector(f"[data-case='{second['id']}']", timeout=30_000)
        shots(page, "console-4-next-case")

    decided = _review(web, first["id"])
    assert decided["status"] == "decided"
    assert decided["decision"]["decision"] == "reject"
    assert decided["decision"]["reason"] == "FACE_UNCLEAR"
    # the reviewer's key is untenanted, so its entries are read by an untenanted auditor
    with web.api("auditor", tenant=None) as c:
        entries = c.get("/api/v1/audit", params={"limit": 1000}).json()["entries"]
    mine = [e for e in entries if e.get("target_id") in (first["id"], first["case_id"])]
    actions = [e["action"] for e in mine]
    assert "review.claimed" in actions and "review.decided" in actions, actions
    assert "case.labelled" in actions, actions


def test_alerts_are_listed_and_acknowledged(
    web: Web, cases: dict[str, dict[str, Any]], shots: Any
) -> None:
    with web.api("reviewer") as c:
        active = c.get("/api/v1/alerts", params={"status": "active"}).json()["alerts"]
    assert active, "the face-mismatch verification raises an alert"
    target = active[0]
    with chromium(None) as browser:
        page = _page(browser)
        page.goto(f"{web.base_url}/console#/alerts")
        _sign_in(page, web)
        page.get_by_role("heading", name="Unresolved alerts").wait_for()
        shots(page, "console-5-alerts", readme=True)
        page.locator(f"button[data-alert='{target['id']}']").click()
        page.get_by_text("Acknowledged.").wait_for()
        page.wait_for_function(
            f"() => !document.querySelector(\"button[data-alert='{target['id']}']\")"
        )
    with web.api("reviewer") as c:
        got = c.get(f"/api/v1/alerts/{target['id']}").json()
    assert got["status"] == "acknowledged"
    assert got["acknowledged_by"]


def test_dashboard_shows_the_metrics_api_numbers(
    web: Web, cases: dict[str, dict[str, Any]], shots: Any
) -> None:
    with chromium(None) as browser:
        page = _page(browser)
        page.goto(f"{web.base_url}/console/dashboard")
        _sign_in(page, web)
        page.locator("#dashboard").wait_for()
        page.locator(".chart-svg").first.wait_for()
        shots(page, "console-6-dashboard", readme=True)
        window = page.locator("#dashboard").evaluate(
            "d => ({from: d.dataset.from, to: d.dataset.to, bucket: d.dataset.bucket})"
        )
        kpis = page.locator("[data-metric]").evaluate_all(
            "ks => Object.fromEntries(ks.map(k => [k.dataset.metric, k.querySelector('.kpi-value').textContent]))"
        )
        bars = (
            page.locator("figure.chart")
            .first.locator("rect[data-series]")
            .evaluate_all("rs => rs.reduce((s, r) => s + Number(r.dataset.value), 0)")
        )
        cells = page.locator("#buckets tbody tr").evaluate_all(
            "rows => rows.map(r => Object.fromEntries([...r.querySelectorAll('td[data-col]')].map(td => [td.dataset.col, td.textContent])))"
        )
        # the key survives navigating inside the console (no reload, no storage)
        page.get_by_role("link", name="Queue").click()
        page.get_by_role("heading", name="Review queue").wait_for()
    with web.api("auditor") as c:
        params = {"from": window["from"], "to": window["to"]}
        summary = c.get("/api/v1/metrics/summary", params=params).json()
        series = c.get(
            "/api/v1/metrics/timeseries", params=params | {"bucket": window["bucket"]}
        ).json()
    assert summary["total"] >= 3
    for key in ("total", "approved", "manual_review", "rejected", "labelled"):
        assert kpis[key] == str(summary[key]), (key, kpis[key], summary[key])
    assert kpis["review_rate"] == f"{summary['review_rate'] * 100:.1f} %"
    for key in ("false_accept_rate", "false_reject_rate"):
        m = summary[key]
        want = (
            f"{m['rate'] * 100:.1f} % ({m['errors']}/{m['total']})"
            if m["total"]
            else "— (no labels)"
        )
        assert kpis[key] == want, (key, kpis[key], m)
    assert bars == summary["approved"] + summary["manual_review"] + summary["rejected"]
    assert len(cells) == len(series["buckets"])
    for shown, bucket in zip(cells, series["buckets"], strict=True):
        for col in ("approved", "manual_review", "rejected"):
            assert shown[col] == str(bucket[col])
