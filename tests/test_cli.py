"""The ``siyu`` command line, driven through click's CliRunner: bad input gets a clear message per
flag and changes nothing; long commands fail early when the port is taken."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from django.utils import translation

from siyu.cli import main
from siyu.demo import personas as P
from siyu.org.models import Brand, Posting, Staff
from siyu.platform.models import AuditEntry

pytestmark = pytest.mark.django_db


def siyu(*args: str, input: str | None = None) -> Result:
    with translation.override("en"):  # messages are checked in English; the default language is zh-hans
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def createstaff(*args: str) -> Result:
    return siyu("createstaff", "--brand", P.BRAND_CODE, *args)


# --- createstaff -------------------------------------------------------------------------------
def test_createstaff_adds_a_guide_through_the_services(world: Any, client: Any) -> None:
    result = createstaff(
        "--username", "zhao.guide", "--name", "赵敏", "--role", "guide", "--phone", "13512345678",
        "--store", "SH002", "--password", "good-password",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    staff = Staff.objects.get(username="zhao.guide")
    assert (staff.brand_id, staff.store_id, staff.role, staff.phone) == (
        world.brand.pk,
        world.sh2.pk,
        "guide",
        "13512345678",
    )
    assert Posting.objects.filter(staff=staff, store=world.sh2, ended_at__isnull=True).exists()
    entry = AuditEntry.objects.get(action="staff.create", object_id=str(staff.pk))
    assert entry.actor_label == "siyu createstaff"
    assert client.login(username="13512345678", password="good-password")


def test_createstaff_asks_for_the_password_twice_when_not_given(world: Any) -> None:
    result = siyu(
        "createstaff", "--username", "qian.rm", "--name", "钱进", "--role", "region_manager", "--region", "SOUTH",
        input="good-password\ngood-password\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert Staff.objects.get(username="qian.rm").region_id == world.south.pk


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--username", "a b", "--phone", "123", "--store", "SH001"), ["--username:", "--phone:"]),
        (("--username", "ok.guide", "--store", "NOPE"), ["--store: No store of this brand has this code."]),
        (("--username", "ok.guide", "--store", "R001"), ["--store:"]),  # another brand's store
        (("--username", "chen.guide", "--store", "SH001"), ["--username:"]),  # taken
        (("--username", "ok.guide", "--phone", P.GUIDE_B.phone, "--store", "SH001"), ["--phone:"]),  # taken
        (("--username", "ok.guide"), ["--store: A store manager or guide belongs to a store."]),
        (("--username", "ok.guide", "--store", "SH001", "--region", "EAST"), ["--region:"]),
    ],
)
def test_createstaff_refuses_bad_input_per_flag_and_creates_nothing(
    world: Any, args: tuple[str, ...], expected: list[str]
) -> None:
    before = (Staff.objects.count(), AuditEntry.objects.count(), Posting.objects.count())
    result = createstaff("--name", "新人", "--role", "guide", "--password", "good-password", *args)
    assert result.exit_code == 1
    assert "Nothing was created" in result.output
    for text in expected:
        assert text in result.output
    assert (Staff.objects.count(), AuditEntry.objects.count(), Posting.objects.count()) == before


def test_createstaff_refuses_a_short_password(world: Any) -> None:
    before = Staff.objects.count()
    result = createstaff("--username", "ok.guide", "--name", "新人", "--role", "guide", "--store", "SH001",
                         "--password", "short")  # fmt: skip
    assert result.exit_code == 1 and "--password: A password has at least 8 characters." in result.output
    assert Staff.objects.count() == before


def test_createstaff_refuses_an_unknown_brand_or_role(world: Any) -> None:
    result = siyu("createstaff", "--brand", "nope", "--username", "ok.guide", "--name", "新人", "--role", "guide",
                  "--store", "SH001", "--password", "good-password")  # fmt: skip
    assert result.exit_code == 1 and "--brand: No brand has this code." in result.output
    result = createstaff("--username", "ok.guide", "--name", "新人", "--role", "boss", "--password", "good-password")
    assert result.exit_code == 2 and "'--role'" in result.output
    assert not Staff.objects.filter(username="ok.guide").exists()


# --- seed and demo -----------------------------------------------------------------------------
def test_seed_refuses_a_negative_number_of_events_and_writes_nothing() -> None:
    result = siyu("seed", "--members", "10", "--events", "-1")
    assert result.exit_code == 2 and "--events" in result.output
    assert not Brand.objects.exists()


def test_seed_prints_the_logins_and_a_second_run_adds_nothing() -> None:
    from siyu.events import services as events

    result = siyu("seed", "--members", "20", "--events", "500")
    assert result.exit_code == 0, result.output
    for persona in P.STAFF_PERSONAS:
        assert persona.username in result.output and persona.phone in result.output
    assert P.DEMO_PASSWORD in result.output and P.CUSTOMER_PHONE in result.output
    brand = Brand.objects.get()
    assert events.has_generated_events(brand.pk)  # the behaviour events step ran
    staff = Staff.objects.count()
    again = siyu("seed", "--members", "20", "--events", "500")
    assert again.exit_code == 0 and "already complete" in again.output
    assert Staff.objects.count() == staff and Brand.objects.count() == 1


def test_demo_says_which_flag_to_use_when_the_port_is_taken(busy_port: int) -> None:
    result = siyu("demo", "--port", str(busy_port))
    assert result.exit_code == 1
    assert f"Port {busy_port}" in result.output and "--port" in result.output
    assert not Brand.objects.exists()  # it failed before seeding anything


def test_serve_says_which_flag_to_use_when_the_port_is_taken(busy_port: int) -> None:
    result = siyu("serve", "--port", str(busy_port))
    assert result.exit_code == 1 and "--port" in result.output


def test_an_address_that_cannot_be_used_is_explained() -> None:
    result = siyu("serve", "--host", "192.0.2.1", "--port", "8000")  # TEST-NET-1: not on this machine
    assert result.exit_code == 1 and "--host" in result.output


# --- bench ---------------------------------------------------------------------------------------
def test_bench_list_names_the_workloads() -> None:
    result = siyu("bench", "list")
    assert result.exit_code == 0
    assert "seed-customers" in result.output and "50,000" in result.output and "1,000,000" in result.output


def test_bench_run_of_an_unknown_workload_names_the_known_ones() -> None:
    result = siyu("bench", "run", "nope")
    assert result.exit_code == 2 and "seed-customers" in result.output


def test_the_installed_command_runs_outside_the_test_settings(tmp_path: Path) -> None:
    """The real ``siyu`` executable, with no DJANGO_SETTINGS_MODULE in its environment (as a person
    runs it): --help and bench list answer without a traceback."""
    import os
    import subprocess
    import sys

    exe = str(Path(sys.executable).with_name("siyu"))  # the command installed beside this Python
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(SIYU_HOME=str(tmp_path), SIYU_LANGUAGE="en")
    for args in (["--help"], ["bench", "list"]):
        done = subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    listed = subprocess.run([exe, "bench", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert "seed-customers" in listed.stdout and "import-members" in listed.stdout
