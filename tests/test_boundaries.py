"""Import boundaries between the apps of siyu (ARCHITECTURE.md, "Shape").

* ``siyu.platform`` is the shared kernel: it imports no domain and nothing of the composition layer.
* A domain (``org``, ``members``, ``catalog``, ... every top-level package of ``siyu`` that is not the
  kernel or the composition layer) reaches another domain only through its ``services`` module,
  never its models, views, api, forms or rules. It never imports the composition layer either.
* The composition layer (``settings``, ``urls``, ``api``, ``cli``, ``wsgi``, ``asgi`` and the
  ``demo`` and ``bench`` packages) wires domains together: it may import their services, views and
  API routers, but never their models.

Every module under ``src/siyu`` is parsed with ``ast`` (imports inside functions and under
``TYPE_CHECKING`` count too); migrations are generated code and are left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
KERNEL = "platform"
COMPOSITION = frozenset({"settings", "urls", "api", "cli", "wsgi", "asgi", "demo", "bench", "__main__"})
PUBLIC_SURFACE = "services"  # the only module of a domain another domain may import


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    importer: str  # dotted module name of the file
    target: str  # dotted module (or module.name) imported


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(importer: str, is_package: bool, level: int, module: str | None) -> str:
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_of(root: Path, path: Path) -> Iterator[Import]:
    """Every ``siyu`` import in one file, with ``from a import b`` reported as ``a.b``."""
    importer = module_name(root, path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, importer, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = (
                _resolve_relative(importer, is_package, node.level, node.module) if node.level else (node.module or "")
            )
            for alias in node.names:
                yield Import(path, node.lineno, importer, base if alias.name == "*" else f"{base}.{alias.name}")


def domains_in(root: Path) -> set[str]:
    """Top-level packages of siyu that are business domains."""
    return {
        p.name
        for p in (root / "siyu").iterdir()
        if p.is_dir() and (p / "__init__.py").exists() and p.name != KERNEL and p.name not in COMPOSITION
    }


def violation(imp: Import, domains: set[str]) -> str | None:
    """Why an import crosses a boundary, or ``None`` when it is allowed."""
    src = imp.importer.split(".")
    dst = imp.target.split(".")
    if dst[0] != "siyu" or len(dst) < 2 or len(src) < 2:
        return None
    src_app, dst_app = src[1], dst[1]
    if src_app == dst_app:
        return None
    if src_app in COMPOSITION:
        if dst_app in domains and len(dst) > 2 and dst[2] in ("models", "migrations"):
            return f"the composition layer ({src_app}) must not import a domain's models; use its services"
        return None
    if dst_app in COMPOSITION:
        return f"{src_app} must not import the composition layer ({dst_app})"
    if src_app == KERNEL and dst_app in domains:
        return "the kernel (siyu.platform) must not import a domain"
    if src_app in domains and dst_app in domains:
        if len(dst) < 3:
            return f"import {dst_app}'s services module explicitly (siyu.{dst_app}.{PUBLIC_SURFACE})"
        if dst[2] != PUBLIC_SURFACE:
            return f"{src_app} may reach {dst_app} only through siyu.{dst_app}.{PUBLIC_SURFACE}, not {dst[2]}"
    return None


def check_tree(root: Path) -> list[str]:
    domains = domains_in(root)
    found: list[str] = []
    for path in sorted((root / "siyu").rglob("*.py")):
        if "migrations" in path.relative_to(root).parts:
            continue
        for imp in sorted(imports_of(root, path), key=lambda i: i.line):
            why = violation(imp, domains)
            if why:
                found.append(f"{path.relative_to(root.parent)}:{imp.line} import {imp.target} — {why}")
    return found


def test_the_source_tree_keeps_its_import_boundaries() -> None:
    found = check_tree(SRC)
    assert not found, "imports that cross a boundary (ARCHITECTURE.md, 'Shape'):\n" + "\n".join(found)


def test_the_domains_are_the_packages_we_expect() -> None:
    assert {"org", "members", "catalog"} <= domains_in(SRC)
    assert not ({KERNEL, "demo", "bench"} & domains_in(SRC))


# --- The checker itself, on a small tree that breaks every rule once --------------------------
def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_checker_names_file_line_and_import_of_each_violation(tmp_path: Path) -> None:
    root = tmp_path / "src"
    for pkg in ("siyu", "siyu/platform", "siyu/org", "siyu/members", "siyu/demo", "siyu/org/migrations"):
        _write(root, f"{pkg}/__init__.py", "")
    _write(root, "siyu/platform/tenancy.py", "import os\nfrom siyu.org.models import Store\n")
    _write(root, "siyu/platform/jobs.py", "from siyu.urls import urlpatterns\n")
    _write(
        root,
        "siyu/members/services.py",
        "from siyu.org import services\n"  # allowed
        "from siyu.org.services import StoreInfo\n"  # allowed
        "from siyu.platform.tenancy import Scope\n"  # allowed
        "from siyu.org.models import Staff\n"  # line 4: not allowed
        "def f():\n"
        "    from siyu.org import rules\n"  # line 6: not allowed, even inside a function
        "import siyu.org\n",  # line 7: the package itself is not a surface
    )
    _write(root, "siyu/members/views.py", "from . import services\nfrom ..org.views import hq_home\n")
    _write(root, "siyu/org/migrations/0002_x.py", "from siyu.members.models import Customer\n")
    _write(root, "siyu/urls.py", "from siyu.org import views\nfrom siyu.members.views import x\n")
    _write(root, "siyu/demo/seed.py", "from siyu.org.services import create_store\nfrom siyu.members.models import C\n")

    found = check_tree(root)
    where = [line.split(" — ")[0] for line in found]
    assert where == [
        "src/siyu/demo/seed.py:2 import siyu.members.models.C",
        "src/siyu/members/services.py:4 import siyu.org.models.Staff",
        "src/siyu/members/services.py:6 import siyu.org.rules",
        "src/siyu/members/services.py:7 import siyu.org",
        "src/siyu/members/views.py:2 import siyu.org.views.hq_home",
        "src/siyu/platform/jobs.py:1 import siyu.urls.urlpatterns",
        "src/siyu/platform/tenancy.py:2 import siyu.org.models.Store",
    ]
    assert "must not import a domain" in found[-1]
