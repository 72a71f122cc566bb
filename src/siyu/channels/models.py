"""Tables of the channels: one-time phone codes and the SMS sandbox's outbox.

A phone number is personal data (ADR 0005): it is kept sealed (``phone_sealed``) where the text has
to be shown again (the sandbox outbox) and otherwise only as its keyed hash (``phone_hash``). A code
is kept only as a keyed hash too: a copy of the database does not tell anyone a valid code.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.platform.tenancy import ScopeRule

HQ_ONLY = ScopeRule()  # brand-level rows: HQ reads them, nobody below


class PhoneGate(models.Model):
    """One row per phone of a brand that ever asked for a code. Sending and checking a code lock it
    (``SELECT … FOR UPDATE``), so two requests for the same phone never race past the limits."""

    scope_rule: ClassVar[ScopeRule] = HQ_ONLY

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    phone_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "phone_hash"], name="phone_gate_once")]


class PhoneCode(models.Model):
    """A one-time code sent to a phone for one purpose. Only the newest code of a phone and
    purpose counts; it works once, for five minutes, and locks after five wrong tries."""

    scope_rule: ClassVar[ScopeRule] = HQ_ONLY

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    phone_hash = models.CharField(max_length=64)
    purpose = models.CharField(_("purpose"), max_length=40)
    code_hash = models.CharField(max_length=64)
    sent_at = models.DateTimeField(_("sent at"))
    expires_at = models.DateTimeField(_("expires at"))
    attempts = models.PositiveSmallIntegerField(_("wrong attempts"), default=0)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["brand", "phone_hash", "sent_at"])]
        verbose_name = _("phone code")


class SmsMessage(models.Model):
    """One text the SMS sandbox "sent": nothing leaves the machine, every message is kept here."""

    scope_rule: ClassVar[ScopeRule] = HQ_ONLY

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    phone_sealed = models.TextField()
    phone_hash = models.CharField(max_length=64)
    purpose = models.CharField(_("purpose"), max_length=40)
    text = models.TextField(_("text"))
    sent_at = models.DateTimeField(_("sent at"))

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [models.Index(fields=["brand", "phone_hash", "sent_at"])]
        verbose_name = _("SMS message (sandbox)")
