"""Marking a guide as left hands her customers over: to the guides chosen in the page or the API,
or shared among her store's other guides; never leaving a customer without a guide."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from siyu.members.models import Binding, Customer

pytestmark = pytest.mark.django_db


def test_the_page_hands_her_customers_to_the_chosen_guide(world: Any) -> None:
    client = world.login(Client(), "store_manager")
    leaver, receiver = world.staff["guide_a"], world.staff["guide_b"]
    ids = world.customers[leaver.username]
    page = client.get(reverse("hq:staff_detail", args=[leaver.pk]))
    assert 'name="to_guides"' in page.content.decode() and receiver.name in page.content.decode()
    answer = client.post(reverse("hq:staff_leave", args=[leaver.pk]), {"to_guides": [str(receiver.pk)]})
    assert answer.status_code == 302
    assert set(Customer.objects.filter(pk__in=ids).values_list("guide_id", flat=True)) == {receiver.pk}
    assert Binding.objects.filter(customer_id__in=ids, source="inheritance", guide=receiver).count() == len(ids)


def test_the_api_takes_the_receiving_guides_and_refuses_a_guide_out_of_reach(world: Any) -> None:
    client = world.login(Client(), "store_manager")
    leaver = world.staff["guide_a"]
    ids = world.customers[leaver.username]
    url = reverse("api:staff_leave", args=[leaver.pk])
    refused = client.post(url, {"to_guides": [world.south_guide.pk]}, content_type="application/json")
    assert refused.status_code in (403, 404, 422)
    assert Customer.objects.filter(pk__in=ids, guide=leaver).count() == len(ids)  # nothing changed
    ok = client.post(url, {"to_guides": [world.staff["guide_b"].pk]}, content_type="application/json")
    assert ok.status_code == 200, ok.content
    assert set(Customer.objects.filter(pk__in=ids).values_list("guide_id", flat=True)) == {world.staff["guide_b"].pk}
