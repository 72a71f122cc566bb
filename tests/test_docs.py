"""The documentation is checked against the code: settings, commands, apps, personas, roles."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "siyu"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def environment_variables_read_in_settings() -> set[str]:
    """Every variable name settings.py reads: ``os.environ.get("X")``, ``os.environ["X"]``,
    ``os.getenv("X")`` and its ``_flag("X")`` helper."""
    tree = ast.parse((SRC / "settings.py").read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        first: ast.expr | None = None
        if isinstance(node, ast.Call) and node.args:
            func = ast.unparse(node.func)
            if func in ("os.environ.get", "os.getenv", "_flag", "os.environ.setdefault"):
                first = node.args[0]
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            first = node.slice
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
    return names


def test_every_environment_variable_of_the_settings_is_in_the_readme() -> None:
    names = environment_variables_read_in_settings()
    assert {"SIYU_HOME", "DATABASE_URL", "REDIS_URL", "SIYU_SECRET_KEY", "SIYU_DATA_KEY"} <= names
    missing = sorted(n for n in names if f"`{n}`" not in README)
    assert not missing, f"README.md does not document these environment variables: {missing}"


def apps() -> list[Path]:
    return sorted(p.parent for p in SRC.glob("*/apps.py"))


def test_every_app_has_a_readme_with_its_invariants() -> None:
    assert {p.name for p in apps()} >= {"platform", "org", "members", "catalog"}
    missing = [str(p.relative_to(ROOT)) for p in apps() if not (p / "README.md").exists()]
    assert not missing, f"apps without a README.md: {missing}"
    without_invariants = [
        str(p.relative_to(ROOT))
        for p in apps()
        if (p / "README.md").exists() and "## Invariants" not in (p / "README.md").read_text(encoding="utf-8")
    ]
    assert not without_invariants, f"app READMEs without an '## Invariants' section: {without_invariants}"


def cli_commands() -> list[str]:
    """Every command of ``siyu --help``, sub-commands of groups included (``bench run``)."""
    from siyu.cli import main

    def walk(group: click.Group, prefix: str) -> list[str]:
        found = []
        for name, command in sorted(group.commands.items()):
            if command.hidden:
                continue
            found.append(f"{prefix} {name}")
            if isinstance(command, click.Group):
                found += walk(command, f"{prefix} {name}")
        return found

    return walk(main, "siyu")


def test_every_command_of_siyu_help_is_in_the_readme() -> None:
    commands = cli_commands()
    assert {"siyu demo", "siyu serve", "siyu worker", "siyu manage"} <= set(commands)
    missing = [c for c in commands if f"`{c}`" not in README and f"{c} " not in README]
    assert not missing, f"README.md does not mention these commands: {missing}"


def test_the_readme_opens_with_what_siyu_is_then_exactly_the_two_commands() -> None:
    before_sections = README.split("\n## ", 1)[0]
    intro = before_sections.split("```", 1)[0]
    assert "private-domain retail operations platform" in intro
    blocks = re.findall(r"```[a-z]*\n(.*?)```", before_sections, flags=re.S)
    assert [b.strip() for b in blocks] == ["scripts/demo", "scripts/test"]
    for script in ("scripts/demo", "scripts/test", ".ci/run"):
        path = ROOT / script
        assert path.exists() and path.stat().st_mode & 0o111, f"{script} must exist and be executable"


def test_the_personas_in_the_readme_are_the_ones_of_the_demo() -> None:
    from siyu.demo import personas

    assert f"`{personas.DEMO_PASSWORD}`" in README
    for persona in personas.STAFF_PERSONAS:
        row = next((line for line in README.splitlines() if f"`{persona.username}`" in line), "")
        assert row, f"README.md has no row for persona {persona.username}"
        assert persona.phone in row and persona.name in row and f"`{persona.role}`" in row, row
    assert personas.CUSTOMER_PHONE in README and personas.CUSTOMER_NAME in README


ADR = ROOT / "docs" / "adr"


@pytest.mark.parametrize("number", sorted(p.name[:4] for p in ADR.glob("[0-9][0-9][0-9][0-9]-*.md")))
def test_each_adr_has_a_status_and_a_date_and_is_in_the_index(number: str) -> None:
    [path] = ADR.glob(f"{number}-*.md")
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"# {number} · ")
    assert re.search(r"^- Status: (Proposed|Accepted|Superseded by \d{4}|Deprecated)$", text, flags=re.M)
    assert re.search(r"^- Date: \d{4}-\d{2}-\d{2}$", text, flags=re.M)
    assert path.name in (ADR / "README.md").read_text(encoding="utf-8"), "the ADR index lists it"


def test_the_roles_table_of_adr_0006_matches_the_code() -> None:
    from siyu.org.rules import LEVEL_OF_ROLE, ROLE_PERMS, Perm, Role

    text = (ADR / "0006-roles-and-permissions.md").read_text(encoding="utf-8")
    header = next(line for line in text.splitlines() if line.startswith("| Permission |"))
    roles = [c.strip().strip("`") for c in header.strip("|").split("|")][1:]
    assert roles == [r.value for r in Role], "one column per role, in the order of Role"
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == len(roles) + 1 and cells[0] != "Permission" and not cells[0].startswith("-"):
            rows[cells[0].strip("`*")] = cells[1:]
    assert [rows["level"][i] for i in range(len(roles))] == [LEVEL_OF_ROLE[Role(r)].value for r in roles]
    documented = [p for p in rows if p != "level"]
    assert documented == [p.value for p in Perm], "one row per permission, in the order of Perm"
    for perm in Perm:
        marked = {roles[i] for i, cell in enumerate(rows[perm.value]) if cell == "✓"}
        assert marked == {r.value for r in Role if perm.value in ROLE_PERMS[r]}, f"{perm.value} disagrees"


def test_the_changelog_has_an_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "keepachangelog.com" in text
    assert re.search(r"^## \[Unreleased\]$", text, flags=re.M)
