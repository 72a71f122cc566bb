"""One-time phone codes by SMS (siyu.channels): the sandbox records every message, sealed; a code
works once, for five minutes, and locks after five wrong tries; a phone gets at most one code a
minute and five an hour."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from siyu.channels import rules
from siyu.channels import services as channels
from siyu.channels.models import PhoneCode, SmsMessage
from siyu.platform import clock, privacy

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 8, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
PHONE = "13912345678"


def at(minutes: float = 0, seconds: float = 0) -> Any:
    return clock.frozen(T0 + dt.timedelta(minutes=minutes, seconds=seconds))


def send(world: Any, phone: str = PHONE, purpose: str = "scan.phone") -> channels.SentCode:
    return channels.send_code(world.brand.pk, phone, purpose)


def check(world: Any, code: str, phone: str = PHONE, purpose: str = "scan.phone") -> bool:
    return channels.check_code(world.brand.pk, phone, purpose, code)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_the_sandbox_records_the_message_sealed_and_the_code_only_as_a_hash(world: Any) -> None:
    with at():
        sent = send(world, "139 1234 5678")
    assert sent.phone_masked == "139****5678" and sent.purpose == "scan.phone"
    assert sent.sandbox_code is not None and rules.looks_like_code(sent.sandbox_code)
    assert sent.expires_at == T0 + dt.timedelta(minutes=5) and sent.sends_left == 4
    message = SmsMessage.objects.get()
    assert message.brand_id == world.brand.pk and message.sent_at == T0
    assert PHONE not in message.phone_sealed and privacy.unseal(message.phone_sealed) == PHONE
    assert message.phone_hash == privacy.lookup_hash(PHONE)
    assert sent.sandbox_code in message.text and world.brand.name in message.text
    stored = PhoneCode.objects.get()
    assert sent.sandbox_code not in stored.code_hash and stored.phone_hash == privacy.lookup_hash(PHONE)


def test_the_right_code_works_once(world: Any) -> None:
    with at():
        code = send(world).sandbox_code or ""
    with at(minutes=4):
        assert check(world, code[:3] + " " + code[3:])  # spaces as typed are fine
        assert not check(world, code)  # used up


def test_a_code_expires_after_five_minutes(world: Any) -> None:
    with at():
        code = send(world).sandbox_code or ""
    with at(minutes=5):
        assert not check(world, code)


def test_five_wrong_tries_lock_the_code(world: Any) -> None:
    with at():
        code = send(world).sandbox_code or ""
    with at(minutes=1):
        for _n in range(4):
            assert not check(world, wrong(code))
        assert not check(world, "abc")  # malformed counts as a wrong try too
        assert not check(world, code)  # locked, though right
    assert PhoneCode.objects.get().attempts == 5


def test_only_the_newest_code_counts_and_only_for_its_purpose_phone_and_brand(world: Any) -> None:
    with at():
        first = send(world).sandbox_code or ""
    with at(minutes=1, seconds=1):
        other = send(world, purpose="mall.checkout").sandbox_code or ""
    with at(minutes=2, seconds=2):
        second = send(world).sandbox_code or ""
    with at(minutes=3):
        if first != second:  # one in a million draws the same six digits twice
            assert not check(world, first)
        if other != second:
            assert not check(world, second, purpose="mall.checkout")
        assert not channels.check_code(world.rival_brand.pk, PHONE, "scan.phone", second)
        assert not check(world, second, phone="13900000000")
        assert check(world, second)
        assert check(world, other, purpose="mall.checkout")


def test_one_code_a_minute_and_five_an_hour_per_phone(world: Any) -> None:
    with at():
        send(world)
    with at(seconds=30), pytest.raises(ValidationError) as soon:
        send(world, purpose="mall.checkout")  # the limits count every purpose
    assert " 30 " in str(soon.value.message_dict["phone"])  # seconds to wait
    for n in range(1, 5):
        with at(minutes=2 * n):
            assert send(world).sends_left == 4 - n
    with at(minutes=12), pytest.raises(ValidationError) as hourly:
        send(world)
    assert "11:00" in str(hourly.value.message_dict["phone"])  # the first of the five leaves the hour at 10:00+1h
    assert SmsMessage.objects.count() == 5  # a refused send texts nothing
    with at(minutes=60, seconds=1):
        assert send(world).sandbox_code
    with at(minutes=60, seconds=2):
        assert send(world, phone="13700001111").sandbox_code  # another phone has its own limits


def test_a_bad_number_is_refused_and_nothing_is_sent(world: Any) -> None:
    with pytest.raises(ValidationError) as exc:
        send(world, phone="12345")
    assert "phone" in exc.value.message_dict
    assert not SmsMessage.objects.exists() and not PhoneCode.objects.exists()
    assert not check(world, "123456", phone="12345")


def test_a_purpose_is_a_short_name(world: Any) -> None:
    with pytest.raises(ValueError):
        send(world, purpose="Checkout Page!")


def test_forgetting_a_phone_erases_its_codes_and_messages(world: Any) -> None:
    with at():
        send(world)
        send(world, phone="13700001111")
    gone = channels.forget_phones(world.brand.pk, [privacy.lookup_hash(PHONE)])
    assert gone == 3  # its message, its code and its gate
    assert list(SmsMessage.objects.values_list("phone_hash", flat=True)) == [privacy.lookup_hash("13700001111")]


def test_the_outbox_lists_the_newest_messages_first(world: Any) -> None:
    with at():
        send(world)
    with at(minutes=2):
        send(world)
        send(world, phone="13700001111")
    assert [m.sent_at for m in channels.sandbox_outbox(world.brand.pk, PHONE)] == [
        T0 + dt.timedelta(minutes=2),
        T0,
    ]
    assert len(channels.sandbox_outbox(world.brand.pk)) == 3 and not channels.sandbox_outbox(world.rival_brand.pk)


def test_the_rules_are_pure() -> None:
    now = T0
    assert rules.next_send_at([], now) is None
    assert rules.next_send_at([now - dt.timedelta(seconds=10)], now) == now + dt.timedelta(seconds=50)
    five = [now - dt.timedelta(minutes=m) for m in (50, 40, 30, 20, 10)]
    assert rules.next_send_at(five, now) == now + dt.timedelta(minutes=10)
    assert rules.sends_left(five, now) == 0 and rules.sends_left(five[1:], now) == 1
    assert not rules.usable(expires_at=now, attempts=0, used=False, now=now)
    assert not rules.usable(expires_at=now + dt.timedelta(1), attempts=5, used=False, now=now)
    assert rules.usable(expires_at=now + dt.timedelta(1), attempts=4, used=False, now=now)
    assert len({rules.new_code() for _n in range(50)}) > 40
