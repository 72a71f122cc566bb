"""The task designer's form (HQ) and the guide's small forms."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.org import services as org
from siyu.platform.forms import YuanField
from siyu.platform.money import fen_to_yuan
from siyu.platform.tenancy import Scope
from siyu.tasks.models import CountMode, FollowUp, Kind, Repeat, ShareChannel

ROLE_CHOICES = [("guide", gettext_lazy("Guides")), ("store_manager", gettext_lazy("Store managers"))]


def _local(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


class TaskForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=80)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Kind.choices)
    description = forms.CharField(
        label=gettext_lazy("Instructions"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    content_id = forms.CharField(
        label=gettext_lazy("Content to forward"),
        required=False,
        max_length=64,
        help_text=gettext_lazy("The content's id (e.g. poster-2026-spring); empty: any content counts."),
    )
    share_channel = forms.ChoiceField(label=gettext_lazy("Where to share"), choices=ShareChannel.choices)
    count_mode = forms.ChoiceField(label=gettext_lazy("Count"), choices=CountMode.choices)
    segment_id = forms.TypedChoiceField(
        label=gettext_lazy("Segment to follow up"), required=False, coerce=int, empty_value=None
    )
    learn_item = forms.ChoiceField(label=gettext_lazy("Article or quiz"), required=False)
    min_order = YuanField(
        label=gettext_lazy("Minimum order (¥)"),
        required=False,
        help_text=gettext_lazy("Sales: count only orders of at least this amount; empty: any order."),
    )
    product_code = forms.CharField(
        label=gettext_lazy("Style code"),
        required=False,
        max_length=32,
        help_text=gettext_lazy("Sales: count only orders with this style; empty: any product."),
    )
    whole_brand = forms.BooleanField(label=gettext_lazy("The whole brand"), required=False)
    region_ids = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Regions"), required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    store_ids = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Stores"), required=False, coerce=int, widget=forms.SelectMultiple(attrs={"size": 6})
    )
    roles = forms.MultipleChoiceField(
        label=gettext_lazy("Roles"),
        required=False,
        choices=ROLE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None chosen: guides."),
    )
    named = forms.CharField(
        label=gettext_lazy("Named guides"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "One per line: username or mobile, optionally followed by her own target (chen.guide 8)."
        ),
    )
    target = forms.IntegerField(
        label=gettext_lazy("Target per guide"),
        min_value=0,
        initial=1,
        help_text=gettext_lazy("New fans, shares, customers or paid orders; for a follow-up, 0 means her whole list."),
    )
    repeat = forms.ChoiceField(label=gettext_lazy("Repeat"), choices=Repeat.choices)
    starts_at = forms.DateTimeField(
        label=gettext_lazy("Starts at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    deadline_at = forms.DateTimeField(
        label=gettext_lazy("Deadline"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy("Of the first round; a daily or weekly task repeats it."),
    )
    repeat_until = forms.DateField(
        label=gettext_lazy("Repeat until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    auto_close = forms.BooleanField(
        label=gettext_lazy("Close at the deadline"),
        required=False,
        initial=True,
        help_text=gettext_lazy("Unfinished work is marked missed at the deadline."),
    )
    coins = forms.IntegerField(label=gettext_lazy("Coins on completion"), min_value=0, initial=10)

    def __init__(self, scope: Scope, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from siyu.learning import services as learning
        from siyu.segments import services as segments

        hq = org.hq_scope(scope.brand_id)
        self.brand_id = scope.brand_id
        self.fields["region_ids"].choices = [(v, k) for k, v in sorted(org.region_ids(scope.brand_id).items())]  # type: ignore[attr-defined]
        self.fields["store_ids"].choices = [(s.id, f"{s.code} {s.name}") for s in org.stores(scope.brand_id)]  # type: ignore[attr-defined]
        self.fields["segment_id"].choices = [("", "—")] + [(s.pk, s.name) for s in segments.segments(hq)]  # type: ignore[attr-defined]
        learn: list[tuple[str, str]] = [("", "—")]
        learn += [(f"read:{a.pk}", _("Read: %(title)s") % {"title": a.title}) for a in learning.articles(hq)[:200]]
        learn += [(f"quiz:{q.pk}", _("Quiz: %(title)s") % {"title": q.title}) for q in learning.quizzes(hq)[:200]]
        self.fields["learn_item"].choices = learn  # type: ignore[attr-defined]

    def clean_named(self) -> tuple[list[int], dict[str, int]]:
        """``login [target]`` lines to guide ids and their own targets."""
        text = self.cleaned_data.get("named") or ""
        by_login = org.guides_by_login(self.brand_id)
        ids: list[int] = []
        targets: dict[str, int] = {}
        unknown = []
        for line in text.splitlines():
            parts = line.split()
            if not parts:
                continue
            info = by_login.get(parts[0].lower()) or by_login.get(parts[0])
            if info is None or not info.active:
                unknown.append(parts[0])
                continue
            ids.append(info.id)
            if len(parts) > 1:
                if not parts[1].isdigit():
                    raise ValidationError(_("A target is a whole number: %(line)s") % {"line": line.strip()})
                targets[str(info.id)] = int(parts[1])
        if unknown:
            raise ValidationError(_("No active guide signs in as: %(who)s") % {"who": ", ".join(unknown[:10])})
        return ids, targets

    def service_data(self) -> dict[str, Any]:
        d = dict(self.cleaned_data)
        guide_ids, targets = d.pop("named")
        learn = d.pop("learn_item") or ""
        d["min_order_fen"] = d.pop("min_order") or 0
        kind, _sep, ref = learn.partition(":")
        d.update(
            guide_ids=guide_ids,
            targets=targets,
            learn_kind=kind if kind in ("read", "quiz") else "",
            learn_ref=int(ref) if ref.isdigit() else None,
        )
        return d

    @classmethod
    def initial_of(cls, task: Any) -> dict[str, Any]:
        logins = {v.id: k for k, v in org.guides_by_login(task.brand_id).items() if not k.isdigit()}
        named = "\n".join(
            f"{logins.get(g, g)} {task.targets[str(g)]}" if str(g) in task.targets else f"{logins.get(g, g)}"
            for g in task.guide_ids
        )
        return {
            "title": task.title,
            "kind": task.kind,
            "description": task.description,
            "content_id": task.content_id,
            "share_channel": task.share_channel,
            "count_mode": task.count_mode,
            "segment_id": task.segment_id,
            "learn_item": f"{task.learn_kind}:{task.learn_ref}" if task.learn_ref else "",
            "min_order": fen_to_yuan(task.min_order_fen) if task.min_order_fen else "",
            "product_code": task.product_code,
            "whole_brand": task.whole_brand,
            "region_ids": task.region_ids,
            "store_ids": task.store_ids,
            "roles": task.roles,
            "named": named,
            "target": task.target,
            "repeat": task.repeat,
            "starts_at": _local(task.starts_at),
            "deadline_at": _local(task.deadline_at),
            "repeat_until": task.repeat_until,
            "auto_close": task.auto_close,
            "coins": task.coins,
        }


RENAME = {
    "guide_ids": "named",
    "targets": "named",
    "learn_kind": "learn_item",
    "learn_ref": "learn_item",
    "min_order_fen": "min_order",
}


class OutreachForm(forms.Form):
    outcome = forms.ChoiceField(label=gettext_lazy("Outcome"), choices=FollowUp.Outcome.choices)
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=200)


class PhotoForm(forms.Form):
    photo = forms.FileField(label=gettext_lazy("Photo"))
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=200)


class DecideForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "approve"), ("reject", "reject")])
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, max_length=200)
