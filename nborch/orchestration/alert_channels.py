"""Delivering an alert: a webhook (nborch's JSON body, or a Slack- or Teams-compatible
one), optionally signed (HMAC-SHA256 of the body, `X-Nborch-Signature: sha256=HEX`), or
an email through SMTP with STARTTLS and auth. Each attempt is bounded by `alert_timeout`
and answers (ok, detail); it never raises for the receiver's faults. A URL's secret
references are resolved here, for the request only: neither the details nor the store
ever hold the resolved URL (the values are masked out of every detail)."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from nborch.alert_models import AlertChannel
from nborch.execution.masking import mask_text, masked_forms
from nborch.orchestration.alert_messages import Message, escape_lines
from nborch.secret_references import substitute_secrets
from nborch.settings import get_settings

SIGNATURE_HEADER = "X-Nborch-Signature"
_COLOURS = {"error": "C0392B", "warning": "E67E22", "good": "27AE60"}


def webhook_body(channel: AlertChannel, message: Message) -> dict[str, Any]:
    if channel is AlertChannel.SLACK:
        return {
            "text": message.subject,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": message.subject[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": message.text[:2900]}},
            ],
        }
    if channel is AlertChannel.TEAMS:
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": message.subject,
            "themeColor": _COLOURS[message.severity],
            "title": message.subject,
            "text": "\n\n".join(message.lines),
        }
    return {**message.fields, "subject": message.subject, "text": message.text}


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[bool, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return True, f"HTTP {answer.status}"
    except urllib.error.HTTPError as err:
        return False, f"HTTP {err.code} {err.reason}"
    except urllib.error.URLError as err:
        return False, f"unreachable: {err.reason}"
    except (OSError, ValueError) as err:  # timeouts, resets, a URL urllib refuses
        return False, f"{type(err).__name__}: {err}"


def send_webhook(
    channel: AlertChannel,
    target: str,
    message: Message,
    secrets: Mapping[str, str],
    hmac_secret: str | None,
) -> tuple[bool, str]:
    """POST the message's body to `target` (its references resolved from `secrets`)."""
    body = json.dumps(webhook_body(channel, message)).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "nborch-alerts"}
    if hmac_secret is not None:
        digest = hmac.new(secrets[hmac_secret].encode(), body, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADER] = f"sha256={digest}"
    url = substitute_secrets(target, secrets, where="an alert rule's URL")
    ok, detail = _post(url, body, headers, get_settings().alert_timeout)
    return ok, mask_text(detail, masked_forms(secrets.values()))


def email(message: Message, to: list[str]) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = get_settings().smtp_sender
    mail["To"] = ", ".join(to)
    mail.set_content(message.text)
    page = escape_lines(message)
    if message.cell_html:
        page += "<h3>The failing cell</h3>" + message.cell_html
    mail.add_alternative(f"<html><body>{page}</body></html>", subtype="html")
    return mail


def send_email(message: Message, to: list[str]) -> tuple[bool, str]:
    """Through the SMTP server of the settings, always over STARTTLS."""
    settings = get_settings()
    if not settings.smtp_url:
        return False, "no SMTP server: set NBORCH_SMTP_URL"
    parts = urlsplit(settings.smtp_url)
    context = ssl.create_default_context(cafile=settings.smtp_ca_file)
    try:
        with smtplib.SMTP(
            parts.hostname or "localhost", parts.port or 587, timeout=settings.alert_timeout
        ) as smtp:
            smtp.starttls(context=context)
            if parts.username:
                password = settings.smtp_password
                smtp.login(parts.username, password.get_secret_value() if password else "")
            refused = smtp.send_message(email(message, to))
    except (smtplib.SMTPException, OSError) as err:
        return False, f"SMTP: {type(err).__name__}: {err}"
    if refused:
        return False, f"SMTP refused {', '.join(refused)}"
    return True, f"SMTP accepted for {len(to)} address(es)"
