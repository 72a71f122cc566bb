"""Run one workload in a child process against a fresh throwaway database and write its result.

Embedded default: the child gets its own temporary ``SIYU_HOME`` (a new SQLite file and job
queue), deleted afterwards. With ``DATABASE_URL`` set, a new database ``siyu_bench_<random>`` is
created on the same PostgreSQL server (the user needs the CREATEDB right), used and dropped, so
the user's own data is never touched; the result says so. With ``REDIS_URL`` set, the child's job
queue gets its own name.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psutil

from siyu.bench import registry


class BenchError(Exception):
    """A benchmark could not run; the message says why and what to do."""


@dataclass(frozen=True)
class FreshDatabase:
    env: dict[str, str]
    description: dict[str, Any]


def repo_root() -> Path:
    """The checkout siyu runs from (where ``bench/`` lives), else the current directory."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "bench").is_dir():
            return parent
    return Path.cwd()


def default_out_dir() -> Path:
    return repo_root() / "bench" / "results"


def _postgres_admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql", "postgis"}:
        raise BenchError(f"benchmarks run on the embedded SQLite or on PostgreSQL; DATABASE_URL is {parts.scheme!r}")
    name = f"siyu_bench_{secrets.token_hex(4)}"
    return name, urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def fresh_database() -> Iterator[FreshDatabase]:
    env = {k: v for k, v in os.environ.items() if k not in {"SIYU_SQLITE_PATH", "SIYU_JOBS_PATH"}}
    # what a workload may keep between runs (large generated data) lives in the caller's SIYU_HOME
    env.setdefault("SIYU_BENCH_CACHE", str(Path(os.environ.get("SIYU_HOME", Path.cwd() / "var")) / "bench-cache"))
    with tempfile.TemporaryDirectory(prefix="siyu-bench-") as home:
        env["SIYU_HOME"] = home
        env["SIYU_JOBS_NAME"] = f"siyu-bench-{secrets.token_hex(4)}"
        url = os.environ.get("DATABASE_URL", "")
        if not url:
            yield FreshDatabase(env, {"vendor": "sqlite", "throwaway": "a new SQLite file in a temporary SIYU_HOME"})
            return
        name, bench_url = _postgres_admin_url(url)
        import psycopg
        from psycopg import sql

        try:  # through the maintenance database, as Django does for test databases
            admin = psycopg.connect(url, dbname="postgres", autocommit=True, connect_timeout=10)
        except psycopg.Error:
            try:
                admin = psycopg.connect(url, autocommit=True, connect_timeout=10)
            except psycopg.Error as exc:
                raise BenchError(f"cannot connect to DATABASE_URL to create a throwaway database: {exc}") from exc
        try:
            try:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.Error as exc:
                raise BenchError(
                    f"cannot create the throwaway database {name} (the DATABASE_URL user needs CREATEDB): {exc}"
                ) from exc
            env["DATABASE_URL"] = bench_url
            parts = urlsplit(url)
            try:
                yield FreshDatabase(
                    env,
                    {
                        "vendor": "postgresql",
                        "throwaway": f"database {name} created for this run on {parts.hostname}:{parts.port or 5432} "
                        "and dropped after it (DATABASE_URL was set)",
                    },
                )
            finally:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        finally:
            admin.close()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(database: dict[str, Any]) -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_physical_count": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "database": database,
    }


def run(name: str, scale: str, *, out_dir: Path | None = None, size: int | None = None) -> tuple[Path, dict[str, Any]]:
    """Run workload ``name`` at ``scale`` (``size`` overrides the scale's size, for quick checks)
    and write ``<out_dir>/<name>.json`` (the latest run) and ``<out_dir>/<name>.<scale>.json`` (the
    latest run at that scale; not for an overridden size). Returns the path and the result."""
    try:
        wl = registry.get(name)
    except LookupError as exc:
        raise BenchError(str(exc)) from exc
    if scale not in wl.sizes:
        raise BenchError(f"scale is one of {', '.join(wl.sizes)}, not {scale!r}")
    size = size if size is not None else wl.sizes[scale]
    if size < 1:
        raise BenchError("the size of a run is at least 1")
    out_dir = out_dir or default_out_dir()
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    with fresh_database() as db, tempfile.TemporaryDirectory(prefix="siyu-bench-out-") as tmp:
        answer = Path(tmp) / "figures.json"
        proc = subprocess.run(
            [sys.executable, "-m", "siyu.bench", "child", name, str(size), str(answer)],
            env=db.env,
            cwd=db.env["SIYU_HOME"],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not answer.exists():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
            raise BenchError(f"workload {name} failed (exit {proc.returncode}):\n{tail}")
        child = json.loads(answer.read_text())
        database = {**db.description, **child["database"]}
    figures = child["figures"]
    registry.check_figures(figures)
    result: dict[str, Any] = {
        "workload": name,
        "description": wl.description,
        "scale": scale,
        "size": size,
        "size_overridden": size != wl.sizes[scale],
        "machine": machine(database),
        "started_at": started_at.isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "siyu_version": _version(),
        "figures": figures,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    path = out_dir / f"{name}.json"  # the latest run
    path.write_text(text)
    if not result["size_overridden"]:
        (out_dir / f"{name}.{scale}.json").write_text(text)  # the latest run at this scale
    return path, result


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("siyu")
    except PackageNotFoundError:
        return "unknown"


def child(name: str, size: int, answer: Path) -> None:
    """Inside the child process: migrate the fresh database, run the workload, write its figures."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    figures = dict(registry.get(name).run(size))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            version = str(cursor.fetchone()[0])
    else:
        import sqlite3

        version = sqlite3.sqlite_version
    answer.write_text(json.dumps({"figures": figures, "database": {"vendor": connection.vendor, "version": version}}))
