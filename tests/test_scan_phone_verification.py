"""The scan page treats a typed number as unverified until the visitor types the code texted to it
(ADR 0007, amended). The attack it stops: typing another person's number to be merged into her
customer and then reading her data on the store mall's "me" page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.channels.models import PhoneCode, SmsMessage
from siyu.members import codes
from siyu.members.identity import IdentityIn, cluster_ids, resolve
from siyu.members.models import Code, Customer, Identity, Merge
from siyu.org import services as org
from siyu.platform import privacy

pytestmark = pytest.mark.django_db


def store_code(world: Any) -> Code:
    return codes.create_code(org.hq_scope(world.brand.pk), kind="store", store=world.flagship.pk)


def victim(world: Any) -> tuple[Customer, str]:
    """张小雨, guide A's customer: her number and name are what an impostor is after."""
    c = Customer.objects.get(pk=world.customers["chen.guide"][0])
    return c, privacy.unseal(c.phone_sealed)


def post(client: Client, qr: Code, **data: str) -> Any:
    return client.post(reverse("scan", args=[qr.token]), data)


def visitor(world: Any) -> tuple[Client, Code]:
    """A browser that opened the flagship's store code (the scan)."""
    code = store_code(world)
    client = Client()
    client.get(reverse("scan", args=[code.token]))
    return client, code


def texted_code(client: Client, qr: Code, number: str) -> str:
    sent = post(client, qr, phone=number, action="send_code")
    assert sent.status_code == 200
    return str(sent.context["sent"].sandbox_code)


def test_a_typed_number_without_the_texted_code_finds_nobody_and_shows_nothing_of_her(world: Any) -> None:
    her, number = victim(world)
    code = store_code(world)
    impostor = Client()
    impostor.get(reverse("scan", args=[code.token]))
    answer = post(impostor, code, phone=number, action="save")
    assert answer.status_code == 200
    assert "尚未验证" in answer.content.decode()  # her number is kept unconfirmed
    assert not Merge.objects.exists()
    assert Customer.objects.get(pk=her.pk).merged_into_id is None
    me = impostor.get(reverse("mall_me", args=[world.flagship.code])).content.decode()
    assert privacy.unseal(her.name_sealed) not in me and privacy.mask_phone(number) not in me
    # her number is hers alone: the impostor's record holds no identity of it and not as her phone
    impostor_customer = Customer.objects.exclude(pk__in=cluster_ids(her)).latest("pk")
    assert impostor_customer.phone_hash == ""
    assert not Identity.objects.filter(customer=impostor_customer, kind="phone").exists()


def test_a_new_number_typed_without_the_code_is_kept_as_an_unverified_identity(world: Any) -> None:
    client, code = visitor(world)
    assert post(client, code, phone="13655556666", action="save").status_code == 200
    ident = Identity.objects.get(kind="phone", key=privacy.lookup_hash("13655556666"))
    assert not ident.verified
    assert ident.customer.phone_hash == ""  # not her searchable number until she proves it


def test_the_page_texts_a_code_and_the_sandbox_shows_it(world: Any) -> None:
    client, code = visitor(world)
    identities = Identity.objects.count()
    sent = post(client, code, phone="136 5555 6666", action="send_code")
    assert sent.status_code == 200
    html = sent.content.decode()
    texted = sent.context["sent"].sandbox_code
    assert texted and texted in html and "136****6666" in html
    assert 'class="sandbox-sms"' in html
    assert SmsMessage.objects.count() == 1 and PhoneCode.objects.count() == 1
    assert Identity.objects.count() == identities  # texting a code changes nobody
    saved = post(client, code, phone="13655556666", code=texted, action="save")
    assert saved.status_code == 200
    ident = Identity.objects.get(kind="phone", key=privacy.lookup_hash("13655556666"))
    assert ident.verified and ident.customer.phone_hash == ident.key


def test_with_the_texted_code_her_number_finds_her(world: Any) -> None:
    her, number = victim(world)
    client, code = visitor(world)
    texted = texted_code(client, code, number)
    assert post(client, code, phone=number, code=texted, action="save").status_code == 200
    merge = Merge.objects.get()
    assert merge.survivor_id == her.pk and merge.rule == "phone"
    me = client.get(reverse("mall_me", args=[world.flagship.code])).content.decode()
    assert privacy.mask_phone(number) in me


def test_a_wrong_code_is_refused_and_nothing_is_saved(world: Any) -> None:
    _her, number = victim(world)
    client, code = visitor(world)
    texted = texted_code(client, code, number)
    wrong = f"{(int(texted) + 1) % 10**6:06d}"
    answer = post(client, code, phone=number, code=wrong, name="冒充者", action="save")
    assert answer.status_code == 400
    assert 'data-field="code"' in answer.content.decode() and "field-error" in answer.content.decode()
    assert not Merge.objects.exists()
    assert PhoneCode.objects.get().attempts == 1
    assert not Customer.objects.filter(name_hash=privacy.lookup_hash("冒充者")).exists()


def test_sending_needs_a_number_and_obeys_the_limits(world: Any) -> None:
    client, code = visitor(world)
    empty = post(client, code, phone="", action="send_code")
    assert empty.status_code == 400 and not SmsMessage.objects.exists()
    assert post(client, code, phone="13655556666", action="send_code").status_code == 200
    again = post(client, code, phone="13655556666", action="send_code")
    assert again.status_code == 400 and SmsMessage.objects.count() == 1
    assert "60" in again.content.decode()  # ask again in 60 seconds


def test_a_code_without_a_number_is_refused(world: Any) -> None:
    client, code = visitor(world)
    assert post(client, code, code="123456", action="save").status_code == 400


def test_proving_a_number_someone_else_only_typed_takes_it_over(world: Any) -> None:
    typed, _ = resolve(
        world.brand.pk,
        [IdentityIn("openid", "o-typer", app_id="h5-sandbox"), IdentityIn("phone", "13655557777")],
        source="store_code",
    )
    owner, created = resolve(
        world.brand.pk,
        [IdentityIn("openid", "o-owner", app_id="h5-sandbox"), IdentityIn("phone", "13655557777", verified=True)],
        source="store_code",
    )
    assert created and owner.pk != typed.pk and not Merge.objects.exists()
    ident = Identity.objects.get(kind="phone", key=privacy.lookup_hash("13655557777"))
    assert (ident.customer_id, ident.origin_id, ident.verified) == (owner.pk, owner.pk, True)
    assert owner.phone_hash == ident.key
    from siyu.platform.models import AuditEntry

    assert AuditEntry.objects.filter(action="customer.phone_claimed", object_id=str(typed.pk)).exists()


def test_erasing_her_forgets_her_texted_codes(world: Any) -> None:
    from siyu.members import rights

    her, number = victim(world)
    client, code = visitor(world)
    post(client, code, phone=number, action="send_code")
    rights.erase_customer(org.hq_scope(world.brand.pk), her.pk, "她来电要求删除")
    assert not SmsMessage.objects.exists() and not PhoneCode.objects.exists()
