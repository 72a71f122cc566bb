"""The SMS adapter: how siyu sends a text message to a mainland mobile number.

:class:`SmsAdapter` is the interface every SMS provider implements. :class:`SandboxSms` is the one
the demo and the tests use: it sends nothing and keeps every message in :class:`SmsMessage` (the
number sealed and hashed, ADR 0005), in the caller's transaction, so a refused or rolled-back
request leaves no message behind. A real provider's client (Aliyun, Tencent Cloud) implements the
same interface later; it hands the text to a job that runs after commit, since a network call has no
place inside a database transaction. ``SIYU_SMS`` chooses the adapter (``sandbox``, the default and
the only one in this release).
"""

from __future__ import annotations

from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from siyu.channels.models import SmsMessage
from siyu.platform import clock, privacy


class SmsAdapter(Protocol):
    """Sends one text to one mainland mobile number (11 digits, normalised)."""

    name: str
    sandbox: bool  # True: nothing reaches a phone, pages may show what was "sent"

    def send(self, brand_id: int, phone: str, text: str, *, purpose: str) -> str:
        """Send ``text``; returns the provider's id of the message."""
        ...


class SandboxSms:
    """Sends nothing; records every message in the sandbox outbox (:class:`SmsMessage`)."""

    name = "sandbox"
    sandbox = True

    def send(self, brand_id: int, phone: str, text: str, *, purpose: str) -> str:
        message = SmsMessage.objects.create(
            brand_id=brand_id,
            phone_sealed=privacy.seal(phone),
            phone_hash=privacy.lookup_hash(phone),
            purpose=purpose,
            text=text,
            sent_at=clock.now(),
        )
        return f"sandbox-{message.pk}"


ADAPTERS: dict[str, type[SmsAdapter]] = {"sandbox": SandboxSms}


def adapter() -> SmsAdapter:
    """The adapter ``SIYU_SMS`` names."""
    name = str(getattr(settings, "SIYU_SMS", "sandbox") or "sandbox")
    try:
        return ADAPTERS[name]()
    except KeyError as exc:
        raise ImproperlyConfigured(f"SIYU_SMS={name!r}: choose one of {', '.join(sorted(ADAPTERS))}") from exc
