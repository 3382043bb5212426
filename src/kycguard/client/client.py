"""The client: one ``httpx.Client``, the API key (and request signing), typed answers.

Areas are attributes, as in httpx-style SDKs: ``client.verify(...)`` / ``client.verifications``,
``client.sessions``, ``client.reviews``, ``client.alerts``, ``client.metrics``.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from kycguard.client.errors import raise_for_error
from kycguard.client.models import Page, ReviewCase, SessionStart, Verification
from kycguard.client.signing import RequestSigner

API = "/api/v1"


class _Area:
    def __init__(self, client: Client) -> None:
        self._c = client


class Verifications(_Area):
    def create(
        self,
        id_document: bytes,
        selfie: bytes,
        *,
        structured_data: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        device_id: str | None = None,
    ) -> Verification:
        """``POST /verify``: the document photo and the selfie, as bytes (JPEG, PNG or WebP)."""
        data: dict[str, str] = {}
        if structured_data is not None:
            data["structured_data"] = json.dumps(dict(structured_data))
        if user_id is not None:
            data["user_id"] = user_id
        files = {
            "id_document": ("id_document.jpg", id_document, "application/octet-stream"),
            "selfie": ("selfie.jpg", selfie, "application/octet-stream"),
        }
        headers = {"X-Device-Id": device_id} if device_id else None
        return Verification.of(
            self._c.request("POST", "/verify", files=files, data=data, headers=headers)
        )

    def get(self, verification_id: str) -> Verification:
        return Verification.of(self._c.request("GET", f"/verifications/{verification_id}"))

    def feedback(self, verification_id: str, *, was_fraud: bool, notes: str = "") -> dict[str, Any]:
        """Label the case (reviewer key): ground truth for FAR/FRR and known fraud faces."""
        return self._c.request(
            "POST",
            f"/verify/{verification_id}/feedback",
            json={"was_fraud": was_fraud, "notes": notes},
        )


class Sessions(_Area):
    def create(
        self,
        user_id: str,
        *,
        verification_id: str | None = None,
        id_document: bytes | None = None,
        challenge_count: int | None = None,
        device_id: str | None = None,
    ) -> SessionStart:
        """``device_id`` goes as ``X-Device-Id``: failures count toward that device's lockout."""
        headers = {"X-Device-Id": device_id} if device_id else None
        if id_document is not None:
            form = {"user_id": user_id}
            if verification_id is not None:
                form["verification_id"] = verification_id
            if challenge_count is not None:
                form["challenge_count"] = str(challenge_count)
            files = {"id_document": ("id_document.jpg", id_document, "application/octet-stream")}
            return SessionStart.of(
                self._c.request("POST", "/sessions", data=form, files=files, headers=headers)
            )
        body: dict[str, Any] = {"user_id": user_id}
        if verification_id is not None:
            body["verification_id"] = verification_id
        if challenge_count is not None:
            body["challenge_count"] = challenge_count
        return SessionStart.of(self._c.request("POST", "/sessions", json=body, headers=headers))

    def send_frame(
        self,
        session_id: str,
        session_token: str,
        jpeg: bytes,
        *,
        sequence: int,
        timestamp_ms: float,
    ) -> dict[str, Any]:
        """One camera frame, as the customer's browser sends it (with the session token)."""
        return self._c.request(
            "POST",
            f"/sessions/{session_id}/frames",
            files={"frame": ("frame.jpg", jpeg, "image/jpeg")},
            data={"sequence": str(sequence), "timestamp": str(timestamp_ms)},
            headers={"X-Session-Token": session_token},
            authenticated=False,
        )

    def complete(self, session_id: str) -> dict[str, Any]:
        return self._c.request("POST", f"/sessions/{session_id}/complete")

    def get(self, session_id: str) -> dict[str, Any]:
        return self._c.request("GET", f"/sessions/{session_id}")

    def delete(self, session_id: str) -> dict[str, Any]:
        return self._c.request("DELETE", f"/sessions/{session_id}")

    def feedback(self, session_id: str, *, was_fraud: bool, notes: str = "") -> dict[str, Any]:
        return self._c.request(
            "POST",
            f"/sessions/{session_id}/feedback",
            json={"was_fraud": was_fraud, "notes": notes},
        )


class Reviews(_Area):
    def list(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[ReviewCase]:
        """The queue, highest risk first then oldest; iterate ``page.next_page()`` for more."""
        params: dict[str, Any] = {"limit": limit}
        params |= {k: v for k, v in (("status", status), ("kind", kind), ("cursor", cursor)) if v}
        body = self._c.request("GET", "/reviews", params=params)
        return Page(
            [ReviewCase.of(x) for x in body["items"]],
            body.get("next_cursor"),
            lambda c: self.list(status=status, kind=kind, limit=limit, cursor=c),
        )

    def reasons(self) -> builtins.list[dict[str, str]]:
        return builtins.list(self._c.request("GET", "/reviews/reasons")["reasons"])

    def get(self, review_id: str) -> ReviewCase:
        """The case with its ``evidence`` (the view is audited)."""
        return ReviewCase.of(self._c.request("GET", f"/reviews/{review_id}"))

    def image(self, review_id: str, kind: str) -> bytes:
        """An evidence image (JPEG): ``document_portrait``, ``selfie``, ``best_<challenge>``."""
        return self._c.request_bytes("GET", f"/reviews/{review_id}/images/{kind}")

    def claim(self, review_id: str) -> ReviewCase:
        """Raises ConflictError ``REVIEW_ALREADY_CLAIMED`` when another reviewer holds it."""
        return ReviewCase.of(self._c.request("POST", f"/reviews/{review_id}/claim"))

    def release(self, review_id: str) -> ReviewCase:
        return ReviewCase.of(self._c.request("POST", f"/reviews/{review_id}/release"))

    def decide(
        self, review_id: str, decision: str, reason: str | None = None, notes: str = ""
    ) -> ReviewCase:
        """``approve`` / ``reject`` / ``request_resubmission`` with a reason code from
        :meth:`reasons` (needs your claim)."""
        body: dict[str, Any] = {"decision": decision, "notes": notes}
        if reason is not None:
            body["reason"] = reason
        return ReviewCase.of(self._c.request("POST", f"/reviews/{review_id}/decision", json=body))


class Alerts(_Area):
    def active(self) -> dict[str, Any]:
        return self._c.request("GET", "/alerts/active")

    def list(self, **filters: Any) -> dict[str, Any]:
        """``severity``, ``type``, ``status``, ``from``, ``to`` ... as the server documents them."""
        params = {k.rstrip("_"): v for k, v in filters.items() if v is not None}
        return self._c.request("GET", "/alerts", params=params)

    def statistics(self) -> dict[str, Any]:
        return self._c.request("GET", "/alerts/statistics")

    def acknowledge(self, alert_id: str) -> dict[str, Any]:
        return self._c.request("POST", f"/alerts/{alert_id}/acknowledge")

    def resolve(self, alert_id: str) -> dict[str, Any]:
        return self._c.request("POST", f"/alerts/{alert_id}/resolve")


class Metrics(_Area):
    def summary(
        self, *, from_: str | None = None, to: str | None = None, variant: str | None = None
    ) -> dict[str, Any]:
        params = {k: v for k, v in (("from", from_), ("to", to), ("variant", variant)) if v}
        return self._c.request("GET", "/metrics/summary", params=params)

    def timeseries(
        self, *, from_: str | None = None, to: str | None = None, bucket: str = "hour"
    ) -> dict[str, Any]:
        params = {k: v for k, v in (("from", from_), ("to", to)) if v} | {"bucket": bucket}
        return self._c.request("GET", "/metrics/timeseries", params=params)

    def prometheus(self) -> str:
        """The Prometheus exposition text of ``/metrics`` (reviewer, auditor or admin key)."""
        return self._c.request_bytes("GET", "/metrics", prefix="").decode()


class Client:
    """``Client(base_url, api_key, signing_secret=None)``; a context manager, thread-safe as
    httpx.Client is. Every non-2xx answer raises a :class:`~kycguard.client.KycguardError`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        signing_secret: str | None = None,
        timeout: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._auth = RequestSigner(api_key, signing_secret)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": "kycguard-python-client"},
        )
        self.verifications = Verifications(self)
        self.sessions = Sessions(self)
        self.reviews = Reviews(self)
        self.alerts = Alerts(self)
        self.metrics = Metrics(self)

    def verify(
        self,
        id_document: bytes,
        selfie: bytes,
        *,
        structured_data: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        device_id: str | None = None,
    ) -> Verification:
        """The seed's ``POST /api/v1/verify`` (same as ``verifications.create``)."""
        return self.verifications.create(
            id_document,
            selfie,
            structured_data=structured_data,
            user_id=user_id,
            device_id=device_id,
        )

    def _send(
        self, method: str, path: str, *, authenticated: bool = True, prefix: str = API, **kw: Any
    ) -> httpx.Response:
        auth = self._auth if authenticated else None
        response = self._http.request(method, prefix + path, auth=auth, **kw)
        raise_for_error(response)
        return response

    def request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        """Any API route under ``/api/v1`` (JSON answer)."""
        body: dict[str, Any] = self._send(method, path, **kw).json()
        return body

    def request_bytes(self, method: str, path: str, **kw: Any) -> bytes:
        return self._send(method, path, **kw).content

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
