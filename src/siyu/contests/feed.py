"""The performance feed: guides post the report of their day (text and an optional picture), the
others like it (once each) and comment; HQ hides a post that should not be there.

Who sees what: a guide (or a store manager on the workbench) reads the posts of her store, her
branch company or the whole brand, as HQ sets in :class:`FeedPolicy` (:func:`reading_scope` turns
that into a :class:`Scope` and every read goes through ``restrict``); in the console a viewer reads
the posts within her own reach. Hidden posts are left out for everyone but HQ's moderators.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils.translation import gettext as _

from siyu.contests.models import FeedComment, FeedLike, FeedPolicy, FeedPost
from siyu.platform import audit, clock
from siyu.platform.tenancy import Level, Scope, get_scoped, restrict

MODERATE = "contests.feed"
WORKBENCH = "guide.workbench"
MAX_TEXT = 2000
MAX_COMMENT = 500


def audience(brand_id: int) -> str:
    found = FeedPolicy.objects.filter(brand_id=brand_id).values_list("audience", flat=True).first()
    return found or FeedPolicy.Audience.REGION


@transaction.atomic
def set_audience(scope: Scope, value: str) -> str:
    if not scope.can(MODERATE):
        raise PermissionDenied(MODERATE)
    if value not in FeedPolicy.Audience.values:
        raise ValidationError({"audience": _("Choose who guides see: their store, their branch company or the brand.")})
    before = audience(scope.brand_id)
    policy, _created = FeedPolicy.objects.update_or_create(brand_id=scope.brand_id, defaults={"audience": value})
    audit.record_by(scope, "feed.audience", policy, before={"audience": before}, after={"audience": value})
    return value


def reading_scope(scope: Scope) -> Scope:
    """The reach of a workbench viewer in the feed (HQ's policy); a console viewer keeps her own."""
    if scope.level not in (Level.SELF, Level.STORE):
        return scope
    wanted = audience(scope.brand_id)
    if wanted == FeedPolicy.Audience.BRAND:
        return replace(scope, level=Level.BRAND)
    if wanted == FeedPolicy.Audience.REGION and scope.region_id is not None:
        return replace(scope, level=Level.REGION)
    return replace(scope, level=Level.STORE)


def posts(scope: Scope, *, workbench: bool = False, with_hidden: bool = False) -> QuerySet[FeedPost]:
    reach = reading_scope(scope) if workbench else scope
    qs = restrict(FeedPost, reach).select_related("author")
    if not (with_hidden and scope.can(MODERATE)):
        qs = qs.filter(hidden_at=None)
    return qs.order_by("-created_at", "-id")


def post_of(scope: Scope, post_id: int, *, workbench: bool = False) -> FeedPost:
    """One post the viewer may read (404 otherwise, as if it did not exist)."""
    reach = reading_scope(scope) if workbench else scope
    return get_scoped(posts(scope, workbench=workbench, with_hidden=not workbench), reach, pk=post_id)


def liked(scope: Scope, post_ids: list[int]) -> set[int]:
    if scope.staff_id is None:
        return set()
    return set(FeedLike.objects.filter(post_id__in=post_ids, staff_id=scope.staff_id).values_list("post_id", flat=True))


def _check_picture(data: bytes) -> str:
    """The picture's extension after the catalog's check of uploaded pictures (type read from the
    bytes: PNG, JPEG or WebP; size and sides bounded)."""
    from siyu.catalog import services as catalog

    return catalog.check_picture(data).kind


@transaction.atomic
def publish(scope: Scope, text: str, *, picture: bytes | None = None) -> FeedPost:
    """A guide's report of her day."""
    if not scope.can(WORKBENCH) or scope.staff_id is None:
        raise PermissionDenied(WORKBENCH)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("Write what you did today.")})
    if len(text) > MAX_TEXT:
        raise ValidationError({"text": _("A report is at most %(n)d characters.") % {"n": MAX_TEXT}})
    ext = _check_picture(picture) if picture else ""
    now = clock.now()
    post = FeedPost(
        brand_id=scope.brand_id,
        author_id=scope.staff_id,
        store_id=scope.store_id,
        region_id=scope.region_id,
        day=clock.today(),
        text=text,
        created_at=now,
    )
    if picture:
        post.picture.save(f"report.{ext}", ContentFile(picture), save=False)
    stored = post.picture.name or ""
    try:
        post.save()
    except BaseException:
        if stored:
            default_storage.delete(stored)
        raise
    return post


@dataclass(frozen=True)
class Liked:
    created: bool
    likes: int


@transaction.atomic
def like(scope: Scope, post_id: int) -> Liked:
    """Like a post she can see; a second like by the same person changes nothing."""
    if scope.staff_id is None:
        raise PermissionDenied(WORKBENCH)
    post = post_of(scope, post_id, workbench=True)
    try:
        with transaction.atomic():
            FeedLike.objects.create(brand_id=scope.brand_id, post=post, staff_id=scope.staff_id, at=clock.now())
    except IntegrityError:
        return Liked(False, FeedPost.objects.values_list("likes", flat=True).get(pk=post.pk))
    FeedPost.objects.filter(pk=post.pk).update(likes=F("likes") + 1)
    return Liked(True, FeedPost.objects.values_list("likes", flat=True).get(pk=post.pk))


@transaction.atomic
def comment(scope: Scope, post_id: int, text: str) -> FeedComment:
    if scope.staff_id is None:
        raise PermissionDenied(WORKBENCH)
    post = post_of(scope, post_id, workbench=True)
    text = (text or "").strip()
    if not text or len(text) > MAX_COMMENT:
        raise ValidationError({"text": _("A comment is 1 to %(n)d characters.") % {"n": MAX_COMMENT}})
    row = FeedComment.objects.create(
        brand_id=scope.brand_id, post=post, author_id=scope.staff_id, text=text, at=clock.now()
    )
    FeedPost.objects.filter(pk=post.pk).update(comments=F("comments") + 1)
    return row


def comments(post: FeedPost) -> list[FeedComment]:
    return list(FeedComment.objects.filter(post=post).select_related("author").order_by("at", "id"))


@transaction.atomic
def hide(scope: Scope, post_id: int, *, reason: str = "", hidden: bool = True) -> FeedPost:
    """HQ hides a post from every guide (or shows it again); audited."""
    if not scope.can(MODERATE):
        raise PermissionDenied(MODERATE)
    post = get_scoped(FeedPost.objects.select_for_update(), scope, pk=post_id)
    before = {"hidden": post.hidden_at is not None}
    post.hidden_at = clock.now() if hidden else None
    post.hidden_reason = reason.strip()[:200] if hidden else ""
    post.save(update_fields=["hidden_at", "hidden_reason"])
    audit.record_by(
        scope,
        "feed.hide" if hidden else "feed.show",
        post,
        before=before,
        after={"hidden": hidden, "reason": post.hidden_reason},
    )
    return post
