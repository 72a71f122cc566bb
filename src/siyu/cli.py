"""The ``siyu`` command line.

``siyu demo`` sets up and serves the demo brand; ``siyu serve`` serves; ``siyu seed`` runs the
demo generator; ``siyu worker`` runs the job queue's worker; ``siyu createstaff`` adds a member of
staff; ``siyu migrate``; ``siyu manage ...`` runs any Django management command; ``siyu bench``
lists and runs the benchmarks. Errors end with what to do about them.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from django.utils.translation import gettext as _  # messages are translated once Django is set up

if TYPE_CHECKING:
    from rich.console import Console

    from siyu.demo.generator import Config, Reporter, Summary


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings")
    import django

    django.setup()


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


@click.group()
@click.version_option(package_name="siyu", prog_name="siyu")
def main() -> None:
    """siyu — private-domain retail operations platform (私域零售运营中台)."""
    # Every command speaks through Django's translations and settings: set it up once, here.
    setup_django()


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def manage(ctx: click.Context) -> None:
    """Run a Django management command (migrate, shell, makemigrations, ...)."""
    from django.core.management import execute_from_command_line

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "siyu.settings")
    execute_from_command_line(["siyu manage", *ctx.args])


# --- Database --------------------------------------------------------------------------------
def _migrate(verbosity: int = 0) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


def _database_label() -> str:
    from django.conf import settings
    from django.db import connection

    if connection.vendor == "sqlite":
        return f"SQLite {settings.DATABASES['default']['NAME']}"
    return f"{connection.vendor} {connection.settings_dict.get('NAME')}"


def _pending_migrations() -> list[str]:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{m.app_label}.{m.name}" for m, _backwards in plan]


def _wipe_embedded_database() -> None:
    """Delete the embedded SQLite database (for ``--fresh``); refuses on PostgreSQL."""
    from django.conf import settings
    from django.db import connections

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        raise click.ClickException(
            _(
                "--fresh deletes the embedded SQLite database only. DATABASE_URL is set: drop and create that "
                "database yourself (or point DATABASE_URL at an empty one), then run again without --fresh."
            )
        )
    connections.close_all()
    path = Path(settings.DATABASES["default"]["NAME"])
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)


@main.command()
def migrate() -> None:
    """Create or update the database tables (same as `siyu manage migrate`)."""
    setup_django()
    _migrate(verbosity=1)


# --- Serving ---------------------------------------------------------------------------------
def _check_port(host: str, port: int) -> None:
    """Fail early, with the flag to use, when the address cannot be listened on (Django is set up,
    so the message is translated)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does
        try:
            s.bind((host, port))
        except OSError as exc:
            where = {"host": host, "port": port, "next": port + 1 if port < 65535 else 8001, "why": exc.strerror}
            if exc.errno == errno.EADDRINUSE:
                message = _(
                    "Port %(port)s on %(host)s is already in use (another siyu or another server?). "
                    "Stop it, or choose another port with --port, e.g. --port %(next)s."
                )
            elif exc.errno in (errno.EACCES, errno.EPERM):
                message = _(
                    "Not allowed to listen on port %(port)s. Choose a port above 1023 with --port, e.g. --port 8000."
                )
            else:
                message = _("Cannot listen on %(host)s:%(port)s (%(why)s). Check --host (e.g. --host 127.0.0.1).")
            raise click.ClickException(message % where) from exc


def _serve(host: str, port: int, threads: int, workers: int = 1) -> None:
    from waitress import serve as waitress_serve

    from siyu.wsgi import application

    shown = f"[{host}]" if ":" in host else host
    console = _console()
    console.print(
        _("siyu is serving on %(url)s — HQ console %(hq)s, guide workbench %(guide)s, API %(api)s. Ctrl+C stops it.")
        % {
            "url": f"http://{shown}:{port}/",
            "hq": f"http://{shown}:{port}/hq/",
            "guide": f"http://{shown}:{port}/guide/",
            "api": f"http://{shown}:{port}/api/v1/docs",
        }
    )
    try:
        if workers > 1:
            _granian(host, port, threads, workers)
        else:
            waitress_serve(application, host=host, port=port, threads=threads, ident="siyu")
    except KeyboardInterrupt:
        console.print(_("Stopped."))


def _granian(host: str, port: int, threads: int, workers: int) -> None:
    """Serve with granian (an HTTP server written in Rust; its wheel is a PyPI package): ``workers``
    processes, each importing ``siyu.wsgi`` and running the WSGI app on ``threads`` threads, so
    requests run on every CPU (one Python process runs on one). HTTP parsing and keep-alive happen
    in Rust, outside the GIL: a mall page costs its worker about 40% less CPU than under gunicorn's
    threaded workers (bench/README.md, store-page). A worker that dies is started again."""
    from django.db import connections
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server import Server

    connections.close_all()  # the workers open their own
    Server(
        "siyu.wsgi:application",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        websockets=False,
        log_level=LogLevels.warning,
        respawn_failed_workers=True,
    ).serve()


host_option = click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
port_option = click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
threads_option = click.option(
    "--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Worker threads serving requests."
)
workers_option = click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes serving requests: 1 serves with waitress in this process; more start granian's worker "
    "processes, each with --threads threads (e.g. one per CPU core and --threads 1 for the mall's pages).",
)


@main.command()
@host_option
@port_option
@threads_option
@workers_option
def serve(host: str, port: int, threads: int, workers: int) -> None:
    """Serve siyu (waitress, or granian with --workers 2 or more; static files by whitenoise) on the
    configured database."""
    setup_django()
    _check_port(host, port)
    pending = _pending_migrations()
    if pending:
        raise click.ClickException(
            _(
                "The database (%(db)s) is missing %(count)s migration(s), e.g. %(first)s. "
                "Run `siyu migrate` first (or `siyu demo` for the demo brand)."
            )
            % {"db": _database_label(), "count": len(pending), "first": pending[0]}
        )
    _serve(host, port, threads, workers)


# --- The demo brand --------------------------------------------------------------------------
seed_options = [
    click.option("--seed", default=42, show_default=True, type=click.IntRange(min=0), help="Random seed."),
    click.option(
        "--members",
        default=50_000,
        show_default=True,
        type=click.IntRange(min=1),
        help="Customers to generate (streams with bounded memory, e.g. 5000000).",
    ),
    click.option(
        "--events",
        default=200_000,
        show_default=True,
        type=click.IntRange(min=0),
        help="Behaviour events over the last 180 days, written straight into the event lake (1M in seconds).",
    ),
    click.option("--fresh", is_flag=True, help="Delete the embedded database first and start over."),
]


def _with_seed_options(fn: Any) -> Any:
    for option in reversed(seed_options):
        fn = option(fn)
    return fn


def _rich_reporter() -> Reporter:
    """Progress bars (rich, on stderr) for the demo generator."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    from siyu.demo.generator import Reporter

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")

    class RichReporter(Reporter):
        def __init__(self) -> None:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                Rate(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=_console(stderr=True),
            )
            self.task: TaskID | None = None
            self.total: int | None = None

        def begin(self, label: str, total: int | None = None) -> None:
            if self.task is None:
                self.progress.start()
            self.task, self.total = self.progress.add_task(label, total=total), total

        def advance(self, n: int = 1) -> None:
            if self.task is not None:
                self.progress.advance(self.task, n)

        def end(self) -> None:
            if self.task is not None and self.total is not None:
                self.progress.update(self.task, completed=self.total)

        def note(self, text: str) -> None:
            self.progress.console.print(text)

        def close(self) -> None:
            self.progress.stop()

    return RichReporter()


def _seed(config: Config) -> Summary:
    from siyu.bench.measure import PeakRss
    from siyu.demo.generator import DemoError, run

    reporter = _rich_reporter()
    try:
        with PeakRss() as peak:
            summary = run(config, reporter)
    except DemoError as exc:
        raise click.UsageError(str(exc)) from exc
    finally:
        reporter.close()
    console = _console()
    facts = ", ".join(f"{k} {v:,}" for k, v in summary.facts.items())
    seconds = sum(summary.seconds.values())
    if summary.ran:
        console.print(
            _("Seeded the demo brand in %(seconds).1f s (peak memory %(mb).0f MB): %(facts)s")
            % {"seconds": seconds, "mb": peak.mb, "facts": facts or "-"}
        )
        steps = ", ".join(
            f"{name} {summary.seconds[name]:.1f} s ({summary.cpu_seconds.get(name, 0):.1f} CPU s)"
            for name in summary.ran
        )
        console.print(_("Steps: %(steps)s") % {"steps": steps})
    return summary


def _check_events_flag(config: Config) -> None:
    from siyu.demo.generator import DemoError, validate

    try:
        validate(config)
    except DemoError as exc:
        raise click.UsageError(str(exc)) from exc


def _persona_table() -> None:
    from rich.table import Table

    from siyu.demo import personas as P
    from siyu.org.rules import ROLE_LABELS, Role

    store = {"store": P.FLAGSHIP_STORE_CODE}
    where = {
        P.HQ_ADMIN.key: _("/hq/ · the whole brand, audit log"),
        P.HQ_OPERATOR.key: _("/hq/ · the whole brand"),
        P.REGION_MANAGER.key: _("/hq/ · region %(region)s") % {"region": P.EAST_REGION_CODE},
        P.STORE_MANAGER.key: _("/hq/ and /guide/ · store %(store)s") % store,
        P.GUIDE_A.key: _("/guide/ · store %(store)s") % store,
        P.GUIDE_B.key: _("/guide/ · store %(store)s") % store,
    }
    table = Table(title=_("Demo logins: sign in with the username or the phone"), title_justify="left")
    table.add_column(_("role"))
    for column in (_("username"), _("phone"), _("password")):
        table.add_column(column, no_wrap=True)
    table.add_column(_("where"))
    for p in P.STAFF_PERSONAS:
        role = f"{ROLE_LABELS[Role(p.role)]} {p.name}"
        table.add_row(role, p.username, p.phone, P.DEMO_PASSWORD, where[p.key])
    table.add_row(
        f"{_('customer')} {P.CUSTOMER_NAME}",
        "—",
        P.CUSTOMER_PHONE,
        "—",
        _("bound to %(guide)s, store %(store)s") % {"guide": P.GUIDE_A.username, **store},
    )
    _console().print(table)


@main.command()
@host_option
@port_option
@threads_option
@_with_seed_options
def demo(host: str, port: int, threads: int, seed: int, members: int, events: int, fresh: bool) -> None:
    """Set up the demo brand on the embedded database and serve it.

    Migrates, seeds the demo brand unless it is already there (then it is reused; --fresh starts
    over), prints the persona logins and serves on http://127.0.0.1:8000/.
    """
    from siyu.demo.generator import Config

    config = Config(seed=seed, members=members, events=events)
    setup_django()
    _check_port(host, port)
    _check_events_flag(config)
    if fresh:
        _wipe_embedded_database()
    _migrate()
    from siyu.demo.generator import seeded

    marker = seeded()
    if marker is not None:
        _console().print(
            _(
                "Reusing the demo brand already in %(db)s (seed %(seed)s, %(members)s customers); "
                "--fresh starts over with new flags."
            )
            % {"db": _database_label(), "seed": marker.get("seed"), "members": f"{marker.get('members', 0):,}"}
        )
    else:
        _seed(config)
    _persona_table()
    _point_codes_at(host, port)
    _serve(host, port, threads)


def _point_codes_at(host: str, port: int) -> None:
    """Unless ``SIYU_PUBLIC_URL`` says otherwise, the demo's QR codes lead to the server it starts
    (``siyu demo --port 8101`` prints codes for port 8101, not the default 8000)."""
    if os.environ.get("SIYU_PUBLIC_URL"):
        return
    from django.conf import settings

    shown = f"[{host}]" if ":" in host else host
    settings.SIYU_PUBLIC_URL = f"http://{shown}:{port}"


@main.command()
@_with_seed_options
def seed(seed: int, members: int, events: int, fresh: bool) -> None:
    """Seed the demo brand (the same generator as `siyu demo`) without serving.

    Deterministic: the same --seed gives the same stores, staff and customers. Running it again
    keeps what is there and adds only what is missing (up to --members customers).
    """
    from siyu.demo.generator import Config

    config = Config(seed=seed, members=members, events=events)
    setup_django()
    _check_events_flag(config)
    if fresh:
        _wipe_embedded_database()
    _migrate()
    summary = _seed(config)
    if summary.skipped and not summary.ran:
        _console().print(_("The demo brand was already complete; nothing was added."))
    _persona_table()


# --- Jobs ------------------------------------------------------------------------------------
@main.command()
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker threads (default: settings).")
def worker(workers: int | None) -> None:
    """Run the job queue's worker and scheduler (Huey consumer)."""
    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    where = f"Redis {settings.REDIS_URL}" if settings.REDIS_URL else f"SQLite {settings.HUEY.get('filename')}"
    _console().print(_("siyu worker: jobs from %(where)s. Ctrl+C stops it.") % {"where": where})
    options: dict[str, Any] = {}
    if workers:
        options["workers"] = workers
    call_command("run_huey", **options)


# --- Staff -----------------------------------------------------------------------------------
FIELD_FLAGS = {
    "username": "--username",
    "phone": "--phone",
    "name": "--name",
    "role": "--role",
    "region": "--region",
    "store": "--store",
    "password": "--password",
    "brand": "--brand",
}
ROLES = ("hq_admin", "hq_operator", "region_manager", "store_manager", "guide")


def _field_errors(errors: dict[str, list[str]]) -> str:
    lines = [_("Nothing was created. Fix these and run again:")]
    for field, messages in errors.items():
        flag = FIELD_FLAGS.get(field, field)
        for message in messages:
            lines.append(f"  {flag}: {message}")
    return "\n".join(lines)


@main.command()
@click.option("--brand", default="feiyue", show_default=True, help="Brand code.")
@click.option("--username", required=True, help="Sign-in name (3–40 letters, digits, '.', '-', '_').")
@click.option("--name", required=True, help="Full name.")
@click.option("--role", required=True, type=click.Choice(ROLES), help="Role.")
@click.option("--phone", default="", help="Mobile number (11 digits); she may sign in with it.")
@click.option("--store", "store_code", default="", help="Store code (store managers and guides).")
@click.option("--region", "region_code", default="", help="Region code (region managers).")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Password (at least 8 characters); asked for when not given.",
)
def createstaff(
    brand: str, username: str, name: str, role: str, phone: str, store_code: str, region_code: str, password: str
) -> None:
    """Add a member of staff to a brand (acting as the brand's HQ; recorded in the audit log)."""
    setup_django()
    from django.core.exceptions import PermissionDenied, ValidationError

    from siyu.org import services as org

    errors: dict[str, list[str]] = {}
    brand_id = org.brand_by_code(brand)
    if brand_id is None:
        errors["brand"] = [_("No brand has this code. Run `siyu demo` or `siyu seed` for the demo brand.")]
        raise click.ClickException(_field_errors(errors))
    scope = org.hq_scope(brand_id, "siyu createstaff")
    store_id = region_id = None
    if store_code:
        store_id = next((s.id for s in org.stores(brand_id) if s.code == store_code), None)
        if store_id is None:
            errors["store"] = [_("No store of this brand has this code.")]
    if region_code:
        region_id = org.region_ids(brand_id).get(region_code)
        if region_id is None:
            errors["region"] = [_("No region of this brand has this code.")]
    if errors:
        raise click.ClickException(_field_errors(errors))
    try:
        staff = org.create_staff(
            scope,
            username=username,
            name=name,
            role=role,
            phone=phone,
            store=store_id,
            region=region_id,
            password=password,
        )
    except ValidationError as exc:
        messages = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        raise click.ClickException(_field_errors(messages)) from exc
    except PermissionDenied as exc:
        raise click.ClickException(str(exc)) from exc
    _console().print(
        _("Created %(staff)s, %(role)s, who can now sign in.") % {"staff": str(staff), "role": staff.get_role_display()}
    )


# --- Benchmarks ------------------------------------------------------------------------------
@main.group()
def bench() -> None:
    """Benchmark workloads: `siyu bench list`, `siyu bench run NAME [--scale small|full]`."""


@bench.command("list")
def bench_list() -> None:
    """Name and describe every workload."""
    from rich.table import Table

    from siyu.bench import registry

    table = Table(_("workload"), _("small"), _("full"), _("what it measures"))
    for wl in registry.workloads().values():
        table.add_row(wl.name, f"{wl.sizes['small']:,}", f"{wl.sizes['full']:,}", wl.description)
    _console().print(table)


@bench.command("run")
@click.argument("name")
@click.option("--scale", type=click.Choice(["small", "full"]), default="small", show_default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for NAME.json (default: bench/results of the checkout).",
)
@click.option("--size", type=click.IntRange(min=1), default=None, hidden=True, help="Override the scale's size.")
def bench_run(name: str, scale: str, out_dir: Path | None, size: int | None) -> None:
    """Run one workload on a fresh throwaway database and write bench/results/NAME.json."""
    from rich.table import Table

    from siyu.bench import registry, runner

    try:
        wl = registry.get(name)
    except LookupError as exc:
        raise click.UsageError(str(exc)) from exc
    console = _console()
    started = time.perf_counter()
    with console.status(
        _("%(name)s: %(scale)s (%(size)s) on a fresh database…")
        % {"name": name, "scale": scale, "size": f"{size or wl.sizes[scale]:,}"}
    ):
        try:
            path, result = runner.run(name, scale, out_dir=out_dir, size=size)
        except runner.BenchError as exc:
            raise click.ClickException(str(exc)) from exc
    table = Table(
        "figure",
        "value",
        title=f"{name} · {result['scale']} ({result['size']:,}) · {time.perf_counter() - started:.0f} s",
    )
    for key, value in result["figures"].items():
        table.add_row(key, f"{value:,}")
    console.print(table)
    console.print(f"→ {path}")


# --- Import (helper-import) --------------------------------------------------------------------
@main.group("import")
def import_() -> None:
    """Import data from files: `siyu import members FILE --brand CODE [--dry-run] [--skip-bad]`."""


@import_.command("members")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--brand", "brand_code", required=True, help="The code of the brand to import into.")
@click.option("--dry-run", is_flag=True, help="Check every row and report the bad ones; change nothing.")
@click.option("--skip-bad", is_flag=True, help="Import the good rows even when some rows are bad.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every bad row (line, column, reason) to this CSV file.",
)
def import_members(file: Path, brand_code: str, dry_run: bool, skip_bad: bool, report_path: Path | None) -> None:
    """Import members from a CSV (UTF-8 or GBK) or Excel (.xlsx) file: a check first, then batches."""
    import csv

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
    from rich.table import Table

    setup_django()
    from siyu.members import services as members
    from siyu.org import services as org

    brand_id = org.brand_by_code(brand_code)
    if brand_id is None:
        raise click.UsageError(_("There is no brand with the code %(code)s (--brand).") % {"code": brand_code})
    scope = org.hq_scope(brand_id, f"siyu import {file.name}")
    out = report_path.open("w", encoding="utf-8-sig", newline="") if report_path else None
    writer = csv.writer(out) if out else None
    if writer:
        writer.writerow([_("line"), _("column"), _("reason")])

    def on_bad(bad: members.BadRow) -> None:
        if writer:
            writer.writerow([bad.line, bad.column, bad.reason])

    console = _console()
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=_console(stderr=True),
    )  # fmt: skip
    tasks: dict[str, TaskID] = {}
    labels = {"check": _("Checking rows"), "import": _("Importing")}

    def step(phase: str, done: int, total: int | None) -> None:
        if phase not in tasks:
            tasks[phase] = progress.add_task(labels[phase], total=total)
        progress.update(tasks[phase], completed=done, total=total)

    started = time.perf_counter()
    try:
        with progress:
            report = members.import_members(
                scope, file, dry_run=dry_run, skip_bad=skip_bad, progress=step, on_bad=on_bad
            )
    except members.ImportFailed as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if out:
            out.close()
    for notice in report.notices:
        console.print(notice)
    if report.errors:
        table = Table(_("line"), _("column"), _("reason"), title=_("Bad rows"))
        for bad in report.errors[:50]:
            table.add_row(str(bad.line), bad.column, bad.reason)
        console.print(table)
        if report.rows_bad > 50 or len(report.errors) > 50:
            more = _("The first 50 problems are shown.")
            console.print(more if report_path else more + " " + _("--report PATH writes all of them to a CSV file."))
    figures = {
        "rows": report.rows_total, "bad": report.rows_bad, "added": report.rows_added,
        "unchanged": report.rows_unchanged, "seconds": f"{time.perf_counter() - started:.1f}",
    }  # fmt: skip
    if dry_run:
        console.print(
            _(
                "Checked %(rows)s rows in %(seconds)s s: %(bad)s bad, %(added)s would be added, "
                "%(unchanged)s already there."
            )
            % figures
        )
    elif report.refused:
        raise click.ClickException(report.message + " " + _("Run again with --skip-bad to import the good rows only."))
    else:
        console.print(
            _(
                "Imported %(rows)s rows in %(seconds)s s: %(added)s added, %(unchanged)s already there, "
                "%(bad)s bad skipped."
            )
            % figures
        )
    if report_path:
        console.print(f"→ {report_path}")


# --- POS orders and the stock ledger (helper-stock-orders) ----------------------------------------
def _brand_scope(brand_code: str, label: str) -> Any:
    from siyu.org import services as org

    brand_id = org.brand_by_code(brand_code)
    if brand_id is None:
        raise click.UsageError(_("There is no brand with the code %(code)s (--brand).") % {"code": brand_code})
    return org.hq_scope(brand_id, label)


@import_.command("pos-orders")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--brand", "brand_code", required=True, help="The code of the brand to import into.")
@click.option("--dry-run", is_flag=True, help="Check every row and report the bad ones; change nothing.")
def import_pos_orders(file: Path, brand_code: str, dry_run: bool) -> None:
    """Import offline POS orders from a CSV or Excel file (one row per line, grouped by document).
    Exit code 1 when a row is bad (nothing is imported then)."""
    from rich.table import Table

    setup_django()
    from siyu.orders import pos_import
    from siyu.platform.sheets import SheetError

    scope = _brand_scope(brand_code, f"siyu import pos-orders {file.name}")
    try:
        report = pos_import.import_file(scope, file, file.name, dry_run=dry_run)
    except SheetError as exc:
        raise click.ClickException(str(exc)) from exc
    console = _console()
    for notice in report.notices:
        console.print(notice)
    if report.errors:
        table = Table(_("line"), _("column"), _("reason"), title=_("Bad rows"))
        for bad in report.errors:
            table.add_row(str(bad.line), bad.column, bad.reason)
        console.print(table)
    figures = {"rows": report.rows_total, "docs": report.documents, "new": report.created,
               "old": report.existing, "bad": len(report.errors)}  # fmt: skip
    if dry_run:
        console.print(
            _("Checked %(rows)s rows, %(docs)s documents (%(old)s already imported): %(bad)s problems.") % figures
        )
    else:
        console.print(_("%(new)s POS orders recorded, %(old)s already there, %(bad)s problems.") % figures)
    if report.errors:
        raise SystemExit(1)


@main.group("stock")
def stock_group() -> None:
    """Stock: `siyu stock check --brand CODE` checks the ledger."""


@stock_group.command("check")
@click.option("--brand", "brand_code", required=True, help="The code of the brand to check.")
def stock_check(brand_code: str) -> None:
    """Check that every store's quantity of every SKU is the sum of its movements. Exit code 1 on
    any mismatch."""
    setup_django()
    from siyu.inventory import services as stock

    scope = _brand_scope(brand_code, "siyu stock check")
    mismatches = stock.check_ledger(scope.brand_id)
    console = _console()
    for m in mismatches:
        console.print(
            _("store %(store)s, SKU %(sku)s: on hand %(a)s, ledger %(b)s; reserved %(c)s, ledger %(d)s")
            % {
                "store": m.store_id,
                "sku": m.sku_id,
                "a": m.on_hand,
                "b": m.on_hand_ledger,
                "c": m.reserved,
                "d": m.reserved_ledger,
            }
        )
    if mismatches:
        console.print(_("%(n)d stock levels differ from their movements.") % {"n": len(mismatches)})
        raise SystemExit(1)
    console.print(_("The ledger balances."))


# --- Behaviour events (helper-ingest) --------------------------------------------------------------
@main.group("events")
def events_group() -> None:
    """The event lake: `siyu events compact`, `siyu events describe` (ADR 0011)."""


@events_group.command("compact")
def events_compact() -> None:
    """Move the write-ahead log into the lake's Parquet files now (a job does it every minute)."""
    setup_django()
    from siyu.events import services as events

    done = events.compact()
    _console().print(
        _("%(events)s events compacted into %(files)s files; %(skipped)s repeated ids left out.")
        % {"events": f"{done.events:,}", "files": done.files, "skipped": f"{done.skipped:,}"}
    )


@import_.command("events")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--brand", "brand_code", required=True, help="The code of the brand to import into.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write every bad row (line, field, reason) to this CSV file.",
)
def import_events(file: Path, brand_code: str, report_path: Path | None) -> None:
    """Import behaviour events (history) from an NDJSON, CSV or Parquet file straight into the event
    lake: bad rows reported, good rows kept, a repeated event id stored once (ADR 0011)."""
    import csv

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
    from rich.table import Table

    setup_django()
    from siyu.events import importer

    scope = _brand_scope(brand_code, f"siyu import events {file.name}")
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=_console(stderr=True),
    )  # fmt: skip
    tasks: dict[str, TaskID] = {}
    labels = {"read": _("Reading and checking"), "resolve": _("Resolving customers"), "store": _("Storing")}

    def step(phase: str, done: int, total: int | None) -> None:
        if phase not in tasks:
            tasks[phase] = progress.add_task(labels[phase], total=total)
        progress.update(tasks[phase], completed=done, total=total)

    try:
        with progress:
            report = importer.import_file(scope.brand_id, file, progress=step)
    except importer.ImportError_ as exc:
        raise click.ClickException(str(exc)) from exc
    console = _console()
    if report.errors:
        table = Table(_("line"), _("field"), _("reason"), title=_("Bad rows"))
        for bad in report.errors[:50]:
            table.add_row(str(bad.line), bad.field, bad.reason)
        console.print(table)
    if report_path:
        with report_path.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([_("line"), _("field"), _("reason")])
            writer.writerows((bad.line, bad.field, bad.reason) for bad in report.errors)
        console.print(f"→ {report_path}")
    console.print(
        _(
            "Imported %(rows)s rows in %(seconds)s s: %(accepted)s events stored, %(duplicates)s repeated ids "
            "left out, %(bad)s bad rows skipped."
        )
        % {
            "rows": f"{report.rows:,}",
            "seconds": report.seconds.get("total", 0),
            "accepted": f"{report.accepted:,}",
            "duplicates": f"{report.duplicates:,}",
            "bad": f"{report.bad:,}",
        }
    )


@events_group.command("describe")
def events_describe() -> None:
    """Where the lake is and what it holds (brands, Parquet files, WAL files)."""
    setup_django()
    from siyu.events import lake

    for key, value in lake.describe().items():
        _console().print(f"{key}: {value}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
