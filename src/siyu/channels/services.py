"""What other domains use of the channels: one-time codes sent by SMS to prove a phone number.

Two calls, for any purpose (the scan page's ``scan.phone`` today, the mall's ``mall.checkout``
later)::

    sent = channels.send_code(brand_id, "13812345678", "scan.phone")   # -> SentCode
    ok = channels.check_code(brand_id, "13812345678", "scan.phone", "123456")  # -> bool

``send_code`` refuses (``ValidationError`` on ``phone``) a malformed number and a phone that was
sent a code less than a minute ago or five times within the hour. ``check_code`` is ``True`` once
for the newest code of that phone and purpose, within five minutes, before five wrong tries; every
wrong try counts (call it outside a transaction you might roll back). See ``README.md``.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from siyu.channels import rules
from siyu.channels.models import PhoneCode, PhoneGate, SmsMessage
from siyu.channels.sms import adapter
from siyu.org import services as org
from siyu.platform import clock, privacy


@dataclass(frozen=True)
class SentCode:
    """A code on its way. ``sandbox_code`` is the code itself, given only when the SMS adapter is
    the sandbox (no phone receives it, so the page shows it instead, labelled as the sandbox)."""

    phone_masked: str
    purpose: str
    expires_at: dt.datetime
    sends_left: int  # within the hour
    sandbox_code: str | None


def _phone(raw: str) -> str:
    try:
        return privacy.normalize_phone(raw)
    except ValueError as exc:
        raise ValidationError({"phone": _("A mobile number has 11 digits and starts with 13–19.")}) from exc


def _purpose(purpose: str) -> str:
    if not rules.valid_purpose(purpose):
        raise ValueError(f"a code purpose is lower-case letters, digits, '.', '-' and '_': {purpose!r}")
    return purpose


def _code_hash(phone_hash: str, purpose: str, code: str) -> str:
    return privacy.lookup_hash(f"code:{phone_hash}:{purpose}:{code}")


def _lock(brand_id: int, phone_hash: str) -> None:
    """Take the phone's gate (made on first use): sends and checks of one phone run one at a time."""
    gates = PhoneGate.objects.select_for_update().filter(brand_id=brand_id, phone_hash=phone_hash)
    if gates.first() is None:
        try:
            with transaction.atomic():
                PhoneGate.objects.create(brand_id=brand_id, phone_hash=phone_hash)  # locked until commit
        except IntegrityError:
            gates.get()  # another request made it first: wait for its lock


def _text(brand_id: int, code: str) -> str:
    name = org.brand_name(brand_id) or "siyu"
    minutes = int(rules.CODE_TTL.total_seconds() // 60)
    return _(
        "[%(brand)s] Your verification code is %(code)s, valid for %(minutes)d minutes. Never tell it to anyone."
    ) % {
        "brand": name,
        "code": code,
        "minutes": minutes,
    }


def _local_time(at: dt.datetime) -> str:
    return formats.time_format(timezone.localtime(at), "H:i")


@transaction.atomic
def send_code(brand_id: int, phone: str, purpose: str) -> SentCode:
    """Send a new one-time code to ``phone`` for ``purpose`` (it replaces any earlier code of that
    phone and purpose). Refused, with nothing sent, when the number is malformed or the phone was
    sent a code less than a minute ago or five times this hour."""
    number = _phone(phone)
    purpose = _purpose(purpose)
    phone_hash = privacy.lookup_hash(number)
    now = clock.now()
    _lock(brand_id, phone_hash)
    sent = list(
        PhoneCode.objects.filter(
            brand_id=brand_id, phone_hash=phone_hash, sent_at__gt=now - rules.SEND_WINDOW
        ).values_list("sent_at", flat=True)
    )
    wait = rules.next_send_at(sent, now)
    if wait is not None:
        if wait - now <= rules.RESEND_AFTER:
            seconds = max(1, int((wait - now).total_seconds() + 0.999))
            message = _("A code was just sent to this number: ask again in %(n)d seconds.") % {"n": seconds}
        else:
            message = _("This number was sent %(max)d codes within the hour: ask again after %(time)s.") % {
                "max": rules.MAX_SENDS_PER_WINDOW,
                "time": _local_time(wait),
            }
        raise ValidationError({"phone": message})
    code = rules.new_code()
    PhoneCode.objects.create(
        brand_id=brand_id,
        phone_hash=phone_hash,
        purpose=purpose,
        code_hash=_code_hash(phone_hash, purpose, code),
        sent_at=now,
        expires_at=now + rules.CODE_TTL,
    )
    sms = adapter()
    sms.send(brand_id, number, _text(brand_id, code), purpose=purpose)
    return SentCode(
        phone_masked=privacy.mask_phone(number),
        purpose=purpose,
        expires_at=now + rules.CODE_TTL,
        sends_left=rules.sends_left([*sent, now], now),
        sandbox_code=code if sms.sandbox else None,
    )


@transaction.atomic
def check_code(brand_id: int, phone: str, purpose: str, code: str) -> bool:
    """``True`` if ``code`` is the newest code sent to ``phone`` for ``purpose``, unused, younger
    than five minutes and tried fewer than five times wrongly; it is then used up. A wrong code
    counts as a try (the fifth locks the code); a malformed number or code is simply ``False``."""
    purpose = _purpose(purpose)
    try:
        number = privacy.normalize_phone(phone)
    except ValueError:
        return False
    phone_hash = privacy.lookup_hash(number)
    now = clock.now()
    _lock(brand_id, phone_hash)
    newest = PhoneCode.objects.filter(brand_id=brand_id, phone_hash=phone_hash, purpose=purpose).first()
    if newest is None or not rules.usable(
        expires_at=newest.expires_at, attempts=newest.attempts, used=newest.used_at is not None, now=now
    ):
        return False
    typed = rules.clean_code(code)
    if rules.looks_like_code(typed) and hmac.compare_digest(newest.code_hash, _code_hash(phone_hash, purpose, typed)):
        newest.used_at = now
        newest.save(update_fields=["used_at"])
        return True
    newest.attempts += 1
    newest.save(update_fields=["attempts"])
    return False


def sandbox_outbox(brand_id: int, phone: str | None = None, limit: int = 50) -> list[SmsMessage]:
    """The newest messages of the SMS sandbox (of one phone, when given): what the demo "sent"."""
    qs = SmsMessage.objects.filter(brand_id=brand_id)
    if phone:
        qs = qs.filter(phone_hash=privacy.lookup_hash(_phone(phone)))
    return list(qs[:limit])


def forget_phones(brand_id: int, phone_hashes: Iterable[str]) -> int:
    """Erase what the channels keep of these phones (codes, sandbox messages): a customer's erasure
    (PIPL) reaches here. Returns how many rows went."""
    hashes = [h for h in set(phone_hashes) if h]
    if not hashes:
        return 0
    gone = 0
    for model in (SmsMessage, PhoneCode, PhoneGate):
        deleted, _detail = model.objects.filter(brand_id=brand_id, phone_hash__in=hashes).delete()
        gone += deleted
    return gone


def send_notice(brand_id: int, phone: str, text: str, *, purpose: str) -> str:
    """Send a notice (a task reminder, an escalation to a store manager) to a member of staff's
    mobile through the SMS adapter; returns the adapter's id of the message. The caller applies its
    own limits (guide tasks: three reminders per guide per 24 hours)."""
    number = _phone(phone)
    return adapter().send(brand_id, number, text[:300], purpose=_purpose(purpose))
