"""Transports of the senders: one HTTP POST (never following redirects) and one SMTP message."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import httpx

from kycguard.delivery.service import DeliveryFailed


def post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    """POST ``body``; a 2xx answer is success, anything else (a redirect too) a failed attempt."""
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client:
            r = client.post(url, content=body, headers={"User-Agent": "kycguard"} | headers)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:300]) from exc
    if not 200 <= r.status_code < 300:
        what = "redirect (not followed)" if 300 <= r.status_code < 400 else "answer"
        raise DeliveryFailed(f"HTTP {r.status_code} {what}", status_code=r.status_code)
    return r.status_code


def send_mail(
    *,
    host: str,
    port: int,
    sender: str,
    recipients: list[str],
    subject: str,
    text: str,
    timeout_s: float,
    starttls: bool = False,
    username: str | None = None,
    password: str | None = None,
) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(recipients), subject
    msg.set_content(text)
    try:
        with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
            if starttls:
                smtp.starttls()
            if username:
                smtp.login(username, password or "")
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"SMTP: {type(exc).__name__}: {exc}"[:300]) from exc
