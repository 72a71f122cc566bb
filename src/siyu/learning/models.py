"""Knowledge and training: the knowledge base (articles, sales scripts, videos; tagged,
searchable), who read what, quizzes (single and multiple choice, a pass mark, limited attempts) and
knowledge contests (a quiz with a window, ranked by best score, then time)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.platform.tenancy import ScopeRule

# The knowledge base is the brand's: every viewer of the brand reads it.
SHARED = ScopeRule(shared=True)
# A guide's own reads and attempts; her store's, region's, brand's for managers.
OWN = ScopeRule(region="region_id", store="store_id", own="guide_id")


def _video_path(instance: Article, filename: str) -> str:
    ext = (filename.rsplit(".", 1)[-1] if "." in filename else "mp4").lower()[:5]
    return f"learning/{instance.brand_id}/{uuid.uuid4().hex}.{ext}"


class Article(models.Model):
    class Kind(models.TextChoices):
        ARTICLE = "article", _("Article")
        SCRIPT = "script", _("Sales script")
        VIDEO = "video", _("Video")

    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.ARTICLE)
    title = models.CharField(_("title"), max_length=120)
    title_en = models.CharField(_("English title"), max_length=120, blank=True)
    summary = models.CharField(_("summary"), max_length=240, blank=True)
    body = models.TextField(_("text"), max_length=20000, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    search_text = models.TextField(blank=True)  # title, English title, summary, tags and body, lower case
    video = models.FileField(_("video"), upload_to=_video_path, max_length=200, blank=True)
    published = models.BooleanField(_("published"), default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    reads = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["brand", "published", "kind"])]
        verbose_name = _("knowledge item")

    def __str__(self) -> str:
        return self.title


class ArticleRead(models.Model):
    """A guide read an article (the first time; once per guide and article)."""

    scope_rule: ClassVar[ScopeRule] = OWN

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="read_rows")
    guide_id = models.BigIntegerField()
    store_id = models.BigIntegerField(null=True, blank=True)
    region_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["article", "guide_id"], name="article_read_once")]
        indexes = [models.Index(fields=["brand", "guide_id"])]


class Quiz(models.Model):
    """A quiz; with a window (``contest_starts_at``…``contest_ends_at``) it is a knowledge contest
    whose ranking counts the attempts submitted inside it."""

    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=120)
    title_en = models.CharField(_("English title"), max_length=120, blank=True)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    article = models.ForeignKey(Article, on_delete=models.SET_NULL, null=True, blank=True, related_name="quizzes")
    pass_percent = models.PositiveSmallIntegerField(_("pass mark (%)"), default=80)
    max_attempts = models.PositiveSmallIntegerField(_("attempts allowed (0: any)"), default=3)
    published = models.BooleanField(_("published"), default=True)
    contest_starts_at = models.DateTimeField(_("contest opens"), null=True, blank=True)
    contest_ends_at = models.DateTimeField(_("contest closes"), null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(pass_percent__lte=100), name="quiz_pass_mark_percent"),
        ]
        verbose_name = _("quiz")
        verbose_name_plural = _("quizzes")

    def __str__(self) -> str:
        return self.title

    @property
    def is_contest(self) -> bool:
        return self.contest_starts_at is not None and self.contest_ends_at is not None


class Question(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", _("One answer")
        MULTIPLE = "multiple", _("Several answers")

    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=0)
    text = models.CharField(_("question"), max_length=300)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.SINGLE)
    points = models.PositiveSmallIntegerField(_("points"), default=1)

    class Meta:
        ordering = ["position", "id"]


class Choice(models.Model):
    scope_rule: ClassVar[ScopeRule] = SHARED

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    position = models.PositiveSmallIntegerField(default=0)
    text = models.CharField(_("answer"), max_length=200)
    correct = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]


class Attempt(models.Model):
    """One try at a quiz: started when the guide opens it, scored when she submits (once)."""

    scope_rule: ClassVar[ScopeRule] = OWN

    brand = models.ForeignKey("org.Brand", on_delete=models.PROTECT, related_name="+")
    quiz = models.ForeignKey(Quiz, on_delete=models.CASCADE, related_name="attempts")
    guide_id = models.BigIntegerField()
    store_id = models.BigIntegerField(null=True, blank=True)
    region_id = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveIntegerField(default=0)
    max_score = models.PositiveIntegerField(default=0)
    percent = models.PositiveSmallIntegerField(default=0)
    passed = models.BooleanField(default=False)
    seconds = models.PositiveIntegerField(null=True, blank=True)
    answers = models.JSONField(default=dict, blank=True)  # question id -> chosen choice ids

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["quiz", "guide_id"]),
            models.Index(fields=["brand", "guide_id", "passed"]),
        ]
