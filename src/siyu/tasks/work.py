"""What a guide does on her tasks (one tap each) and what her store manager decides.

* :func:`record_share`: she shared a piece of content — to a customer (one to one: a ``share``
  event the platform records, which the live listener credits) or to Moments / a group (no
  receiver: a :class:`ShareRecord` the tasks app keeps, credited at once).
* :func:`record_outreach`: she contacted a customer of her follow-up list, with the outcome.
* :func:`submit_photo` / :func:`decide`: evidence of a store action, approved or rejected by a
  manager of the store (never by the one who submitted it).
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from siyu.org import services as org
from siyu.org.services import Perm
from siyu.platform import audit, clock
from siyu.platform.tenancy import Scope, get_scoped, restrict
from siyu.tasks import rules, verify
from siyu.tasks.models import Assignment, Credit, FollowUp, Kind, Outreach, ShareChannel, ShareRecord, Submission


def _guide(scope: Scope) -> int:
    if scope.staff_id is None or not scope.can(Perm.GUIDE_WORKBENCH):
        raise PermissionDenied(Perm.GUIDE_WORKBENCH)
    return scope.staff_id


def my_assignment(scope: Scope, assignment_id: int) -> Assignment:
    """One of her own assignments (anyone else's looks missing)."""
    guide_id = _guide(scope)
    return get_scoped(Assignment.objects.select_related("task"), scope, pk=assignment_id, guide_id=guide_id)


def my_follow_up(scope: Scope, follow_up_id: int) -> FollowUp:
    """One customer of her own follow-up lists (anyone else's looks missing)."""
    guide_id = _guide(scope)
    return get_scoped(FollowUp, scope, pk=follow_up_id, assignment__guide_id=guide_id)


def record_share(
    scope: Scope, *, channel: str, content_id: str = "", customer_id: int | None = None
) -> ShareRecord | None:
    """She shared ``content_id``. One to one needs the customer (one of hers): the platform records
    a ``share`` event and the listener credits her forward tasks once it commits. Moments or a
    group: a share record, credited at once."""
    guide_id = _guide(scope)
    content_id = (content_id or "").strip()[:64]
    if channel not in (ShareChannel.MOMENTS, ShareChannel.GROUP, ShareChannel.ONE_TO_ONE):
        raise ValidationError({"channel": _("Choose Moments, a group or one customer.")})
    now = clock.now()
    if channel == ShareChannel.ONE_TO_ONE:
        from siyu.events import services as events
        from siyu.members import services as members

        if customer_id is None or int(customer_id) not in members.customer_ids_of_guide(scope.brand_id, guide_id):
            raise ValidationError({"customer_id": _("Choose one of your customers.")})
        event = events.EventIn(
            event_id=f"task-share-{uuid.uuid4().hex}",
            type="share",
            at=now,
            customer_id=int(customer_id),
            store_id=scope.store_id,
            guide_id=guide_id,
            content_id=content_id or None,
            properties={"channel": ShareChannel.ONE_TO_ONE},
        )
        events.emit_on_commit(scope.brand_id, [event])
        return None
    with transaction.atomic():
        record = ShareRecord.objects.create(
            brand_id=scope.brand_id,
            guide_id=guide_id,
            store_id=scope.store_id,
            content_id=content_id,
            channel=channel,
            at=now,
        )
        credits = []
        for a in verify._open_of(scope.brand_id, [guide_id], Kind.FORWARD, now):
            if verify.share_counts_for(a.task, content_id or None, channel):
                key = verify.share_key(a.task, own_id=record.pk)
                if key:
                    credits.append((a.pk, key, Credit.Source.SHARE))
        verify.add_credits(scope.brand_id, credits, at=now)
    return record


@dataclass(frozen=True)
class OwnShare:
    """A share with no receiver reported in a batch (a touchpoint's daily report, the demo)."""

    guide_id: int
    channel: str
    content_id: str
    at: dt.datetime


def record_shares(brand_id: int, shares: Sequence[OwnShare]) -> list[int]:
    """Record many shares to Moments or groups at once (one insert), then credit the open forward
    work of the guides concerned from the facts (``verify.recompute``). Returns the assignments
    completed."""
    from siyu.org import services as org_services

    bad = [s for s in shares if s.channel not in (ShareChannel.MOMENTS, ShareChannel.GROUP)]
    if bad:
        raise ValidationError({"channel": _("Choose Moments or a group.")})
    stores = {p.id: p.store_id for p in org_services.posted_staff(brand_id, roles=rules.TARGET_ROLES)}
    unknown = sorted({s.guide_id for s in shares} - set(stores))
    if unknown:
        raise ValidationError({"guide_id": _("Choose active guides or store managers of the brand.")})
    with transaction.atomic():
        ShareRecord.objects.bulk_create(
            ShareRecord(
                brand_id=brand_id,
                guide_id=s.guide_id,
                store_id=stores[s.guide_id],
                content_id=s.content_id[:64],
                channel=s.channel,
                at=s.at,
            )
            for s in shares
        )
        guides = {s.guide_id for s in shares}
        open_work = list(
            Assignment.objects.filter(
                brand_id=brand_id, guide_id__in=guides, kind=Kind.FORWARD, status=Assignment.Status.OPEN
            ).select_related("task")
        )
        return verify.recompute(brand_id, open_work)


@transaction.atomic
def record_outreach(scope: Scope, follow_up_id: int, *, outcome: str, note: str = "") -> FollowUp:
    """She contacted a customer of her list: the outreach is kept (append-only) and, unless nobody
    answered, the customer counts as followed up."""
    guide_id = _guide(scope)
    follow = get_scoped(
        FollowUp.objects.select_for_update().select_related("assignment"),
        scope,
        pk=follow_up_id,
        assignment__guide_id=guide_id,
    )
    if outcome not in FollowUp.Outcome.values:
        raise ValidationError({"outcome": _("Choose how it went.")})
    if follow.assignment.status == Assignment.Status.MISSED:
        raise ValidationError(_("This task is closed."))
    now = clock.now()
    note = (note or "").strip()[:200]
    Outreach.objects.create(brand_id=scope.brand_id, follow_up=follow, outcome=outcome, note=note, at=now)
    FollowUp.objects.filter(pk=follow.pk).update(
        outcome=outcome, note=note, contacted_at=now, attempts=F("attempts") + 1
    )
    if outcome in rules.COUNTED_OUTCOMES and follow.assignment.status == Assignment.Status.OPEN:
        verify.add_credits(
            scope.brand_id, [(follow.assignment_id, f"outreach:{follow.customer_id}", Credit.Source.OUTREACH)], at=now
        )
    follow.refresh_from_db()
    return follow


def _picture_kind(data: bytes) -> str | None:
    """``png``, ``jpg`` or ``webp`` from the bytes themselves (never the file name)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return "png" if width and height else None
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def submit_photo(scope: Scope, assignment_id: int, *, data: bytes, note: str = "") -> Submission:
    """She uploads the photo of a store action (PNG, JPEG or WebP, at most 5 MB); it waits for a
    manager. Refused while another photo waits or once one was approved."""
    if not data:
        raise ValidationError({"photo": _("Choose a photo to upload.")})
    if len(data) > rules.MAX_PHOTO_BYTES:
        raise ValidationError({"photo": _("A photo is at most 5 MB; this one is larger.")})
    kind = _picture_kind(data)
    if kind is None:
        raise ValidationError({"photo": _("Upload a PNG, JPEG or WebP photo.")})
    with transaction.atomic():
        a = my_assignment(scope, assignment_id)
        Assignment.objects.select_for_update().filter(pk=a.pk).first()
        if a.kind != Kind.STORE_ACTION:
            raise ValidationError(_("This task needs no photo."))
        if a.status != Assignment.Status.OPEN:
            raise ValidationError(_("This task is no longer open."))
        if a.submissions.filter(status__in=(Submission.Status.PENDING, Submission.Status.APPROVED)).exists():
            raise ValidationError({"photo": _("A photo already waits for approval.")})
        sub = Submission(
            brand_id=scope.brand_id, assignment=a, note=(note or "").strip()[:200], submitted_at=clock.now()
        )
        sub.photo.save(f"evidence.{kind}", ContentFile(data), save=False)
        stored = sub.photo.name or ""
        try:
            sub.save()
        except BaseException:
            default_storage.delete(stored)
            raise
    return sub


def pending_submissions(scope: Scope) -> list[Submission]:
    """The photos waiting for a decision within her reach (oldest first)."""
    if not scope.can(Perm.TASKS_APPROVE):
        raise PermissionDenied(Perm.TASKS_APPROVE)
    qs = restrict(Submission, scope).filter(status=Submission.Status.PENDING)
    return list(qs.select_related("assignment", "assignment__task").order_by("submitted_at", "pk")[:200])


@transaction.atomic
def decide(scope: Scope, submission_id: int, *, approve: bool, reason: str = "") -> Submission:
    """A manager approves (the task is done, coins paid) or rejects (she may upload again) a photo."""
    if not scope.can(Perm.TASKS_APPROVE):
        raise PermissionDenied(Perm.TASKS_APPROVE)
    sub = get_scoped(
        Submission.objects.select_for_update().select_related("assignment", "assignment__task"), scope, pk=submission_id
    )
    if sub.assignment.guide_id == scope.staff_id:
        raise PermissionDenied(_("Someone else approves your own photo."))
    if sub.status != Submission.Status.PENDING:
        raise ValidationError(_("This photo was already decided."))
    reason = (reason or "").strip()[:200]
    if not approve and not reason:
        raise ValidationError({"reason": _("Tell the guide why, so she can do it again.")})
    now = clock.now()
    sub.status = Submission.Status.APPROVED if approve else Submission.Status.REJECTED
    sub.decided_at, sub.decided_by_label, sub.reason = now, scope.label[:120], reason
    sub.save(update_fields=["status", "decided_at", "decided_by_label", "reason"])
    audit.record_by(scope, "task.photo_" + ("approve" if approve else "reject"), sub, after={"status": sub.status})
    if approve:
        verify.add_credits(scope.brand_id, [(sub.assignment_id, f"photo:{sub.pk}", Credit.Source.PHOTO)], at=now)
    return sub


def guide_name(brand_id: int, guide_id: int) -> str:
    info = org.staff_info(brand_id, guide_id)
    return info.name if info else ""
