"""The HQ segment builder (``/hq/segments/``) and the guide's shared audiences
(``/guide/customers/audiences/``).

HQ: the list of segments (size, last run, schedule, shared with guides), a page per segment (what
it says in words, its size history as an inline SVG chart, its runs with who entered and left, its
versions with who and when, a masked sample, materialise now), the builder to create or edit one —
a tree of AND / OR / NOT groups and leaf forms drawn by ``static/segments/builder.js`` from a JSON
tree kept in a hidden field, with a live count (:func:`segment_count`, the definition validated and
counted, each problem returned with its path so the page shows it at its leaf) — and the overlap
of two segments.

Guide: the audiences HQ shares with guides, each limited to her own customers
(``services.members_of_guide``), with the customers masked as on her customers page
(``members.services.to_row``) and linked to their pages. Under the workbench's customers tab."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.members import services as members
from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform.access import access, require_scope
from siyu.platform.forms import apply_errors
from siyu.platform.pagination import paginate
from siyu.platform.tenancy import Scope
from siyu.segments import dsl, facts, services
from siyu.segments.models import Segment, SegmentRun

GUIDE = "guide:login"
SAMPLE = 10
CHANGES = 200

LIFECYCLES = (
    ("new", gettext_lazy("New")),
    ("active", gettext_lazy("Active")),
    ("dormant", gettext_lazy("Dormant")),
    ("churned", gettext_lazy("Churned")),
    ("recalled", gettext_lazy("Recalled")),
)
SOURCES = (
    ("store_code", gettext_lazy("Store code")),
    ("guide_code", gettext_lazy("Guide code")),
    ("campaign", gettext_lazy("Campaign code")),
    ("product_code", gettext_lazy("Product code")),
    ("share_link", gettext_lazy("Share link")),
    ("wecom", gettext_lazy("WeCom")),
    ("pos", gettext_lazy("In-store POS")),
    ("mini_program", gettext_lazy("Mini-program")),
    ("import", gettext_lazy("Import")),
)
CHANNELS = (
    ("wecom", gettext_lazy("WeCom")),
    ("sms", gettext_lazy("SMS")),
    ("mini_program", gettext_lazy("Mini-program")),
)
EVENT_TYPES = (
    ("order", gettext_lazy("Order")),
    ("refund", gettext_lazy("Refund")),
    ("view", gettext_lazy("View")),
    ("share", gettext_lazy("Share")),
    ("click", gettext_lazy("Click")),
    ("scan", gettext_lazy("Scan")),
    ("add_friend", gettext_lazy("Add friend")),
    ("join_group", gettext_lazy("Join group")),
    ("message", gettext_lazy("Message")),
    ("sign_in", gettext_lazy("Sign-in")),
)
SCHEDULES = (
    (0, gettext_lazy("Only on demand")),
    (5, gettext_lazy("Every 5 minutes")),
    (15, gettext_lazy("Every 15 minutes")),
    (60, gettext_lazy("Every hour")),
    (360, gettext_lazy("Every 6 hours")),
    (1440, gettext_lazy("Every day")),
)


# --- what the builder offers ------------------------------------------------------------------------
def options(scope: Scope, self_id: int | None = None) -> dict[str, Any]:
    """Everything the builder's leaf forms choose from, with labels in the viewer's language."""
    brand = scope.brand_id
    stores = org.stores(brand)
    regions = {v: k for k, v in org.region_ids(brand).items()}
    pairs = lambda items: [[k, str(v)] for k, v in items]  # noqa: E731
    return {
        "store": [[s.id, f"{s.code} {s.name}"] for s in stores],
        "region": sorted([[i, code] for i, code in regions.items()], key=lambda r: r[1]),
        "city": [[c, c] for c in sorted({s.city for s in stores if s.city})],
        "guide": [[g.id, g.name] for g in org.guides(brand, active_only=False)],
        "tier": [[t.code, t.name] for t in members.tier_levels(brand)] or [["regular", _("Regular")]],
        "lifecycle": pairs(LIFECYCLES),
        "source": pairs(SOURCES),
        "tags": sorted(([i, label] for i, label in members.tag_labels(brand).items()), key=lambda r: r[1]),
        "channel": pairs(CHANNELS),
        "event": pairs(EVENT_TYPES),
        "segment": [[s.pk, s.name] for s in Segment.objects.filter(brand_id=brand).exclude(pk=self_id or 0)],
        "columns": list(dsl.EVENT_COLUMNS_FILTERABLE),
    }


def texts() -> dict[str, str]:
    """The builder script's words, translated on the server (no catalogue in the browser)."""
    words = {
        "and": _("All of (AND)"),
        "or": _("Any of (OR)"),
        "not": _("Not (NOT)"),
        "add_condition": _("Add condition"),
        "add_group": _("Add a group of conditions"),
        "wrap_not": _("Negate"),
        "unwrap_not": _("Remove the negation"),
        "remove": _("Remove"),
        "leaf_type": _("Condition"),
        "attribute": _("Customer attribute"),
        "tags": _("Tags"),
        "consent": _("Consent"),
        "birthday": _("Birthday"),
        "event": _("Did an event (count or sum)"),
        "first_time": _("First time"),
        "last_time": _("Last time"),
        "stopped": _("Stopped doing"),
        "rfm": _("RFM score"),
        "segment": _("Member of another segment"),
        "list": _("Uploaded list"),
        "bucket": _("Random bucket"),
        "field": _("Attribute"),
        "store": _("Store"),
        "region": _("Region"),
        "city": _("City"),
        "guide": _("Guide"),
        "tier": _("Tier"),
        "lifecycle": _("Lifecycle"),
        "source": _("Source touchpoint"),
        "values": _("Values"),
        "match": _("Match"),
        "any": _("any of them"),
        "all": _("all of them"),
        "none": _("none of them"),
        "channel": _("Channel"),
        "granted": _("Granted"),
        "refused": _("Refused or never asked"),
        "within_days": _("Within the next N days"),
        "month": _("In month"),
        "days": _("days"),
        "event_type": _("Event"),
        "custom": _("Other type…"),
        "measure": _("Measure"),
        "count": _("Number of times"),
        "sum": _("Sum of"),
        "amount": _("Amount (CNY)"),
        "quantity": _("Quantity"),
        "property": _("Property"),
        "op": _("Comparison"),
        "value": _("Value"),
        "window": _("When"),
        "all_time": _("All time"),
        "last_days": _("In the last N days"),
        "between": _("Between dates"),
        "from": _("From"),
        "to": _("To"),
        "where": _("Only events where"),
        "add_filter": _("Add filter"),
        "column": _("Column"),
        "did": _("Did it"),
        "not_in_last_days": _("But not in the last N days"),
        "score": _("Score"),
        "min": _("From"),
        "max": _("To"),
        "recency": _("Recency (R)"),
        "frequency": _("Frequency (F)"),
        "monetary": _("Monetary (M)"),
        "other_segment": _("Segment"),
        "list_kind": _("The list holds"),
        "ids": _("Customer ids"),
        "phones": _("Phone numbers"),
        "list_text": _("One per line (or separated by commas)"),
        "list_file": _("Or read a file (.txt or .csv, first column)"),
        "list_count": _("entries"),
        "modulo": _("Buckets in all"),
        "buckets": _("Buckets in the group (e.g. 0, 1)"),
        "salt": _("Salt"),
        "counting": _("Counting…"),
        "customers": _("customers"),
        "count_failed": _("The count failed; try again."),
        "fix_errors": _("Fix the problems marked below."),
        "facts_at": _("facts of"),
        "empty_group": _("Add at least one condition to this group."),
        "pick": _("Choose…"),
    }
    return words


# --- reading a definition in words (list and detail pages) ---------------------------------------
@dataclass
class Line:
    text: str
    children: list[Line]


def _names(values: list[Any], choices: list[list[Any]]) -> str:
    found = {str(k): v for k, v in choices}
    return ", ".join(str(found.get(str(v), v)) for v in values)


def _window(w: dict[str, Any] | None) -> str:
    if not w:
        return _("all time")
    if "last_days" in w:
        return _("in the last %(n)s days") % {"n": w["last_days"]}
    return _("from %(a)s to %(b)s") % {"a": w["from"], "b": w["to"]}


def _where(node: dict[str, Any]) -> str:
    parts = []
    for f in node.get("where") or []:
        name = f.get("property") or f.get("column")
        value = f.get("value")
        parts.append(f"{name} {f.get('op', '=')} {', '.join(map(str, value)) if isinstance(value, list) else value}")
    return (" · " + _("where %(filters)s") % {"filters": "; ".join(parts)}) if parts else ""


def describe(node: dict[str, Any], opts: dict[str, Any]) -> Line:
    """A definition's node in words."""
    kind = node.get("type")
    events = dict(opts["event"])
    if kind in ("and", "or"):
        head = _("All of") if kind == "and" else _("Any of")
        return Line(head, [describe(c, opts) for c in node.get("children", [])])
    if kind == "not":
        return Line(_("Not"), [describe(node["child"], opts)])
    if kind == "attribute":
        field = node["field"]
        label = texts().get(field, field)
        return Line(f"{label}: {_names(node['in'], opts.get(field, []))}", [])
    if kind == "tags":
        match = {"any": _("any of"), "all": _("all of"), "none": _("none of")}[node.get("match", "any")]
        return Line(_("Tags: %(match)s %(tags)s") % {"match": match, "tags": _names(node["tags"], opts["tags"])}, [])
    if kind == "consent":
        channel = dict(opts["channel"]).get(node["channel"], node["channel"])
        state = _("granted") if node.get("granted", True) else _("refused or never asked")
        return Line(_("Consent on %(channel)s: %(state)s") % {"channel": channel, "state": state}, [])
    if kind == "birthday":
        if "within_days" in node:
            return Line(_("Birthday within the next %(n)s days") % {"n": node["within_days"]}, [])
        return Line(_("Birthday in month %(m)s") % {"m": node["month"]}, [])
    if kind == "event":
        event = events.get(node["event"], node["event"])
        if "count" in node:
            what = _("%(event)s: times %(op)s %(n)s") % {
                "event": event,
                "op": node["count"]["op"],
                "n": node["count"]["value"],
            }
        else:
            of, value = node["sum"]["of"], node["sum"]["value"]
            if of == "amount_fen":
                of, value = _("amount (CNY)"), f"{value / 100:g}"
            what = _("%(event)s: sum of %(of)s %(op)s %(n)s") % {
                "event": event,
                "of": of,
                "op": node["sum"]["op"],
                "n": value,
            }
        return Line(f"{what}, {_window(node.get('window'))}{_where(node)}", [])
    if kind in ("first_time", "last_time"):
        event = events.get(node["event"], node["event"])
        label = _("First %(event)s") if kind == "first_time" else _("Last %(event)s")
        return Line(f"{label % {'event': event}} {_window(node.get('window'))}{_where(node)}", [])
    if kind == "stopped":
        event = events.get(node["event"], node["event"])
        text = _("Did %(event)s %(window)s, but not in the last %(n)s days") % {
            "event": event,
            "window": _window(node["did"]),
            "n": node["not_in_last_days"],
        }
        return Line(text + _where(node), [])
    if kind == "rfm":
        return Line(
            _("RFM %(score)s score from %(a)s to %(b)s")
            % {"score": node["score"].upper(), "a": node.get("min", 0), "b": node.get("max", 5)},
            [],
        )
    if kind == "segment":
        name = dict(opts["segment"]).get(node["segment"], f"#{node['segment']}")
        return Line(_("Member of segment “%(name)s”") % {"name": name}, [])
    if kind == "list":
        return Line(_("In an uploaded list of %(n)s customers") % {"n": len(node.get("customers", []))}, [])
    if kind == "bucket":
        buckets = ", ".join(map(str, node["buckets"]))
        return Line(
            _("Random bucket %(buckets)s of %(modulo)s (salt %(salt)s)")
            % {"buckets": buckets, "modulo": node["modulo"], "salt": node.get("salt", 0)},
            [],
        )
    return Line(str(kind), [])


# --- the size-history chart --------------------------------------------------------------------------
@dataclass
class Chart:
    width: int
    height: int
    line: str  # polyline points
    area: str  # polygon points
    dots: list[tuple[float, float, str]]  # x, y, title
    top: int
    first: str
    last: str


def history_chart(runs: list[SegmentRun], width: int = 640, height: int = 180) -> Chart | None:
    """The sizes of the last runs as points of an inline SVG (like the overview's charts: no script)."""
    if not runs:
        return None
    pad_x, pad_top, pad_bottom = 8.0, 12.0, 20.0
    top = max(r.size for r in runs) or 1
    n = len(runs)
    inner_w, inner_h = width - 2 * pad_x, height - pad_top - pad_bottom
    points = []
    for i, r in enumerate(runs):
        x = pad_x + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)
        y = pad_top + inner_h * (1 - r.size / top)
        when = timezone.localtime(r.at).strftime("%Y-%m-%d %H:%M")
        points.append((round(x, 1), round(y, 1), f"{when} · {r.size} (+{r.entered} −{r.left})"))
    line = " ".join(f"{x},{y}" for x, y, _t in points)
    base = height - pad_bottom
    area = f"{points[0][0]},{base} {line} {points[-1][0]},{base}"
    fmt = "%m-%d %H:%M"
    return Chart(
        width,
        height,
        line,
        area,
        points,
        top,
        timezone.localtime(runs[0].at).strftime(fmt),
        timezone.localtime(runs[-1].at).strftime(fmt),
    )


# --- HQ pages -------------------------------------------------------------------------------------------
class SegmentForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=80)
    description = forms.CharField(label=gettext_lazy("Description"), max_length=300, required=False)
    schedule_minutes = forms.TypedChoiceField(
        label=gettext_lazy("Materialise"),
        coerce=int,
        choices=SCHEDULES,
        initial=0,
        required=False,
        empty_value=0,  # type: ignore[arg-type]
    )
    shared_with_guides = forms.BooleanField(
        label=gettext_lazy("Share with guides (each sees her own customers in it)"), required=False
    )
    archived = forms.BooleanField(label=gettext_lazy("Archived"), required=False)
    definition = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, schedule: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["schedule_minutes"]
        if schedule and schedule not in dict(SCHEDULES):  # set through the API: keep it choosable
            field.choices = [*SCHEDULES, (schedule, _("Every %(n)s minutes") % {"n": schedule})]  # type: ignore[attr-defined]

    def clean_definition(self) -> Any:
        raw = self.cleaned_data.get("definition") or ""
        try:
            return json.loads(raw)
        except ValueError:
            raise ValidationError(_("The conditions could not be read; reload the page.")) from None


EMPTY = {"version": dsl.VERSION, "root": {"type": "and", "children": []}}


# The language's problems are English (the API's words); the pages say them in the viewer's language.
FIXED_PROBLEMS = {
    "a segment cannot contain itself (directly or through others)": gettext_lazy(
        "a segment cannot contain itself (directly or through others)"
    ),
    "each bucket must be from 0 to modulo - 1": gettext_lazy("each bucket must be from 0 to the number of buckets - 1"),
    "give either count or sum": gettext_lazy("give either a number of times or a sum"),
    "give either property (a key of the event's properties) or column": gettext_lazy("give a property or a column"),
    "give either within_days or month": gettext_lazy("give either a number of days or a month"),
    "is required": gettext_lazy("is required"),
    "must be a date (YYYY-MM-DD)": gettext_lazy("must be a date (YYYY-MM-DD)"),
    "must be a list of filters": gettext_lazy("must be a list of filters"),
    "must be a list of ids (whole numbers)": gettext_lazy("must be a list of ids (whole numbers)"),
    "must be a list of phone numbers": gettext_lazy("must be a list of phone numbers"),
    "must be a month from 1 to 12": gettext_lazy("must be a month from 1 to 12"),
    "must be a name of letters, digits and _": gettext_lazy("must be a name of letters, digits and _"),
    "must be a non-empty list of bucket numbers": gettext_lazy("give at least one bucket number"),
    "must be a non-empty list of conditions": gettext_lazy("Add at least one condition to this group."),
    "must be a non-empty list of texts or numbers": gettext_lazy("give at least one text or number"),
    "must be a non-empty list of texts": gettext_lazy("choose at least one value"),
    "must be a non-empty list": gettext_lazy("choose at least one value"),
    "must be a number": gettext_lazy("must be a number"),
    "must be a score from 0 to 5": gettext_lazy("must be a score from 0 to 5"),
    "must be a segment id": gettext_lazy("choose a segment"),
    "must be a text or a number": gettext_lazy("must be a text or a number"),
    "must be a whole number, 0 or more": gettext_lazy("must be a whole number, 0 or more"),
    "must be amount_fen, quantity or properties.<name>": gettext_lazy("must be the amount, the quantity or a property"),
    "must be an event type (view, share, order, … or a custom type in lower case)": gettext_lazy(
        "must be an event type (view, share, order, … or another type in lower case)"
    ),
    "must be an object with a type": gettext_lazy("must be a condition or a group"),
    "must be an object": gettext_lazy("must be a condition or a group"),
    "must be any, all or none": gettext_lazy("must be any, all or none"),
    "must be r, f or m": gettext_lazy("must be R, F or M"),
    "must be true or false": gettext_lazy("must be granted or refused"),
    "must not be before from": gettext_lazy("must not be before the start date"),
    "must not be below min": gettext_lazy("must not be below the lower score"),
    "the property must be a name of letters, digits and _": gettext_lazy(
        "the property must be a name of letters, digits and _"
    ),
    "unknown field": gettext_lazy("unknown field"),
    'a window is required: {"last_days": N} or {"from": date, "to": date}': gettext_lazy(
        "a window is required: the last N days or between two dates"
    ),
    'a definition is an object {"version": 1, "root": …}': gettext_lazy("the conditions could not be read"),
}
PATTERN_PROBLEMS = (
    (
        r"^must be a whole number from (?P<low>\d+) to (?P<high>\d+)$",
        gettext_lazy("must be a whole number from %(low)s to %(high)s"),
    ),
    (r"^must be one of (?P<values>.+)$", gettext_lazy("must be one of %(values)s")),
    (r"^at most (?P<n>\d+) values$", gettext_lazy("at most %(n)s values")),
    (r"^unknown tags: (?P<ids>.+)$", gettext_lazy("unknown tags: %(ids)s")),
    (r"^unknown stores: (?P<ids>.+)$", gettext_lazy("unknown stores: %(ids)s")),
    (r"^unknown regions: (?P<ids>.+)$", gettext_lazy("unknown regions: %(ids)s")),
    (r"^unknown guides: (?P<ids>.+)$", gettext_lazy("unknown guides: %(ids)s")),
    (r"^unknown segment (?P<id>\d+)$", gettext_lazy("unknown segment %(id)s")),
    (r"^must be (?P<n>\d+)$", gettext_lazy("must be %(n)s")),
    (r"^nested more than (?P<n>\d+) levels$", gettext_lazy("nested more than %(n)s levels")),
    (
        r"^(?P<n>\d+) numbers match no customer: (?P<shown>.+)$",
        gettext_lazy("%(n)s numbers match no customer: %(shown)s"),
    ),
)


def problem_text(message: str) -> str:
    """A problem of the language in the viewer's language (unknown ones as they are)."""
    if message in FIXED_PROBLEMS:
        return str(FIXED_PROBLEMS[message])
    for pattern, text in PATTERN_PROBLEMS:
        found = re.match(pattern, message)
        if found:
            return str(text) % found.groupdict()
    return message


def _problems(exc: services.InvalidDefinition) -> list[dict[str, str]]:
    return [{"path": p, "message": problem_text(m)} for p, m in exc.problems]


@access(Perm.SEGMENTS_VIEW)
@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    show_archived = request.GET.get("archived") == "1"
    rows = services.segments(scope, include_archived=show_archived)
    schedules = dict(SCHEDULES)
    context = {
        "rows": [
            {
                "segment": s,
                "schedule": schedules.get(s.schedule_minutes) or _("Every %(n)s minutes") % {"n": s.schedule_minutes},
            }
            for s in rows
        ],
        "show_archived": show_archived,
        "can_manage": scope.can(services.MANAGE),
        "facts": facts.facts_version(scope.brand_id),
    }
    return render(request, "segments/segment_list.html", context)


def _builder(request: HttpRequest, scope: Scope, seg: Segment | None) -> HttpResponse:
    form = SegmentForm(
        request.POST or None,
        initial=(
            {
                "name": seg.name,
                "description": seg.description,
                "schedule_minutes": seg.schedule_minutes,
                "shared_with_guides": seg.shared_with_guides,
                "archived": seg.archived,
            }
            if seg
            else None
        ),
        schedule=seg.schedule_minutes if seg else None,
    )
    definition: Any = seg.definition if seg else EMPTY
    problems: list[dict[str, str]] = []
    status = 200
    if request.method == "POST":
        raw = request.POST.get("definition") or ""
        try:
            definition = json.loads(raw)
        except ValueError:
            definition = seg.definition if seg else EMPTY
        if form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if k != "definition"}
            if seg is None:
                data.pop("archived")
            try:
                if seg is None:
                    saved = services.create_segment(scope, definition=form.cleaned_data["definition"], **data)
                else:
                    saved = services.update_segment(scope, seg.pk, definition=form.cleaned_data["definition"], **data)
                return redirect("hq:segment_detail", pk=saved.pk)
            except services.InvalidDefinition as exc:
                problems = _problems(exc)
                form.add_error(None, _("The conditions have problems; they are marked at their place."))
            except ValidationError as exc:
                apply_errors(form, exc)
        status = 400
    context = {
        "form": form,
        "segment": seg,
        "definition": definition,
        "problems": problems,
        "options": options(scope, seg.pk if seg else None),
        "texts": texts(),
        "count_url": reverse("hq:segment_count"),
    }
    return render(request, "segments/segment_form.html", context, status=status)


@access(Perm.SEGMENTS_MANAGE)
@require_http_methods(["GET", "POST"])
def segment_create(request: HttpRequest) -> HttpResponse:
    return _builder(request, require_scope(request), None)


@access(Perm.SEGMENTS_MANAGE)
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    return _builder(request, scope, services.segment_of(scope, pk))


@access(Perm.SEGMENTS_VIEW)
@require_POST
def segment_count(request: HttpRequest) -> HttpResponse:
    """The live count of the definition being edited: ``{"definition": ...}`` in, the size out, or
    422 with every problem as ``{"path", "message"}`` (the builder shows each at its leaf)."""
    scope = require_scope(request)
    try:
        if request.content_type == "application/json":
            body = json.loads(request.body or b"{}")
            definition = body["definition"] if isinstance(body, dict) else None
        else:  # a plain form post: the definition as JSON text in the field "definition"
            definition = json.loads(request.POST["definition"])
    except (ValueError, KeyError):
        return JsonResponse({"errors": [{"path": "", "message": _("Send the definition as JSON.")}]}, status=400)
    if facts.facts_version(scope.brand_id) is None:  # never exported: take the first snapshot now
        facts.refresh_facts(scope.brand_id)
    try:
        result = services.count_definition(scope, definition)
    except services.InvalidDefinition as exc:
        return JsonResponse({"errors": _problems(exc)}, status=422)
    at = timezone.localtime(result.facts_at).strftime("%Y-%m-%d %H:%M") if result.facts_at else ""
    return JsonResponse({"size": result.size, "ms": result.ms, "facts_version": result.facts_version, "facts_at": at})


@access(Perm.SEGMENTS_VIEW)
@require_GET
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    seg = services.segment_of(scope, pk)
    runs = services.history(scope, pk)
    opts = options(scope)
    sample = services.sample(scope, pk, SAMPLE)
    versions = services.versions(scope, pk)
    labels_store = {s.id: f"{s.code} {s.name}" for s in org.stores(scope.brand_id)}
    context = {
        "segment": seg,
        "summary": describe(seg.definition["root"], opts),
        "chart": history_chart(runs),
        "runs": list(reversed(runs))[:20],
        "versions": [(v, describe(v.definition["root"], opts)) for v in versions],
        "sample": [(row, labels_store.get(row.store_id or 0, "")) for row in sample],
        "lifecycles": dict(LIFECYCLES),
        "can_manage": scope.can(services.MANAGE),
        "schedule": dict(SCHEDULES).get(seg.schedule_minutes) or _("Every %(n)s minutes") % {"n": seg.schedule_minutes},
        "facts": facts.facts_version(scope.brand_id),
        "others": [s for s in services.segments(scope) if s.pk != seg.pk],
    }
    return render(request, "segments/segment_detail.html", context)


@access(Perm.SEGMENTS_MANAGE)
@require_POST
def segment_materialise(request: HttpRequest, pk: int) -> HttpResponse:
    from django.contrib import messages

    scope = require_scope(request)
    run = services.materialise_now(scope, pk)
    messages.success(
        request,
        _("Materialised: %(size)s customers, %(entered)s entered, %(left)s left.")
        % {"size": run.size, "entered": run.entered, "left": run.left},
    )
    return redirect("hq:segment_detail", pk=pk)


def _rows(scope: Scope, ids: list[int]) -> list[members.CustomerRow]:
    found = {c.pk: c for c in members.visible_customers(scope).filter(pk__in=ids)}
    return [members.to_row(scope, found[i]) for i in ids if i in found]


@access(Perm.SEGMENTS_VIEW)
@require_GET
def segment_run(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    """Who entered and who left at one run (masked as the viewer's scope requires)."""
    scope = require_scope(request)
    seg = services.segment_of(scope, pk)
    run = get_object_or_404(SegmentRun, pk=run_id, segment=seg)
    entered = services.changes(scope, run.pk, entered=True, limit=CHANGES)
    left = services.changes(scope, run.pk, entered=False, limit=CHANGES)
    context = {
        "segment": seg,
        "run": run,
        "entered": _rows(scope, entered),
        "left": _rows(scope, left),
        "limit": CHANGES,
        "lifecycles": dict(LIFECYCLES),
    }
    return render(request, "segments/segment_run.html", context)


@access(Perm.SEGMENTS_VIEW)
@require_GET
def segment_overlap(request: HttpRequest) -> HttpResponse:
    """How many customers two segments share (counted now, in one query)."""
    scope = require_scope(request)
    choices = services.segments(scope)
    ids = {s.pk for s in choices}
    a, b = request.GET.get("a", ""), request.GET.get("b", "")
    result = None
    chosen: tuple[Segment, Segment] | None = None
    if a.isdigit() and b.isdigit():
        if int(a) not in ids or int(b) not in ids:
            raise Http404
        result = services.overlap(scope, int(a), int(b))
        by_id = {s.pk: s for s in choices}
        chosen = (by_id[int(a)], by_id[int(b)])
    bars = None
    if result is not None:
        total = max(result.only_a + result.both + result.only_b, 1)
        bars = {
            "only_a": round(100 * result.only_a / total, 1),
            "both": round(100 * result.both / total, 1),
            "only_b": round(100 * result.only_b / total, 1),
        }
    context = {
        "choices": choices,
        "a": int(a) if a.isdigit() else None,
        "b": int(b) if b.isdigit() else None,
        "result": result,
        "chosen": chosen,
        "bars": bars,
    }
    return render(request, "segments/segment_overlap.html", context)


# --- the guide's shared audiences ------------------------------------------------------------------------
@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def customer_audiences(request: HttpRequest) -> HttpResponse:
    """The audiences HQ shares with guides, each limited to her own customers."""
    scope = require_scope(request)
    audiences = services.shared_with_me(scope)
    return render(request, "segments/guide_audiences.html", {"audiences": audiences})


@access(Perm.GUIDE_WORKBENCH, login_url=GUIDE)
@require_GET
def customer_audience(request: HttpRequest, pk: int) -> HttpResponse:
    """One shared audience: her customers in it, masked as on her customers page, linked to their pages."""
    scope = require_scope(request)
    audience = next((a for a in services.shared_with_me(scope) if a.segment_id == pk), None)
    if audience is None:
        raise Http404
    qs = members.visible_customers(scope).filter(pk__in=audience.customer_ids).order_by("-joined_at", "-id")
    page = paginate(request, qs, 30)
    context = {
        "audience": audience,
        "page": page,
        "rows": [members.to_row(scope, c) for c in page.object_list],
        "lifecycles": dict(LIFECYCLES),
        "qs": "",
    }
    return render(request, "segments/guide_audience.html", context)


hq_urlpatterns = [
    path("segments/", segment_list, name="segment_list"),
    path("segments/new/", segment_create, name="segment_create"),
    path("segments/count/", segment_count, name="segment_count"),
    path("segments/overlap/", segment_overlap, name="segment_overlap"),
    path("segments/<int:pk>/", segment_detail, name="segment_detail"),
    path("segments/<int:pk>/edit/", segment_edit, name="segment_edit"),
    path("segments/<int:pk>/materialise/", segment_materialise, name="segment_materialise"),
    path("segments/<int:pk>/runs/<int:run_id>/", segment_run, name="segment_run"),
]
guide_urlpatterns = [
    path("customers/audiences/", customer_audiences, name="customer_audiences"),
    path("customers/audiences/<int:pk>/", customer_audience, name="customer_audience"),
]
