"""HQ settings of the customer domain (``members.policy``): lifecycle thresholds, tier levels and
policy, the binding rules, tag groups and tags, and the recompute on demand.

Each form posts to its own URL and goes through a verb of :mod:`siyu.members.profile` (validated
there, audited); an invalid form re-renders the page with the errors on their fields (400)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from siyu.members import profile
from siyu.members.models import BindingPolicy, LifecyclePolicy, Tag, TagGroup, TierLevel, TierPolicy
from siyu.org.services import Perm
from siyu.platform.access import access, require_scope
from siyu.platform.forms import apply_errors
from siyu.platform.money import fen_to_yuan, yuan_to_fen
from siyu.platform.tenancy import Scope, get_scoped


class LifecycleForm(forms.ModelForm):
    class Meta:
        model = LifecyclePolicy
        fields = list(profile.LIFECYCLE_FIELDS)


class TierPolicyForm(forms.ModelForm):
    class Meta:
        model = TierPolicy
        fields = list(profile.TIER_POLICY_FIELDS)


class BindingPolicyForm(forms.ModelForm):
    class Meta:
        model = BindingPolicy
        fields = list(profile.BINDING_FIELDS)


class TierLevelForm(forms.Form):
    code = forms.SlugField(label=gettext_lazy("Code"), max_length=20)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=40)
    rank = forms.IntegerField(label=gettext_lazy("Rank"), min_value=0, max_value=100)
    min_spend = forms.CharField(
        label=gettext_lazy("Spend in the window at least (yuan)"),
        max_length=14,
        help_text=gettext_lazy("e.g. 2000 or 1999.50"),
    )

    def clean_min_spend(self) -> int:
        try:
            fen = yuan_to_fen(self.cleaned_data["min_spend"])
        except ValueError as exc:
            raise forms.ValidationError(_("An amount in yuan with at most two decimals, e.g. 1999.50.")) from exc
        if fen < 0:
            raise forms.ValidationError(_("An amount of at least 0."))
        return fen


class TagGroupForm(forms.ModelForm):
    class Meta:
        model = TagGroup
        fields = list(profile.GROUP_FIELDS)


class TagForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Tag"), max_length=40)
    color = forms.RegexField(
        label=gettext_lazy("Colour"),
        regex=r"^#[0-9a-fA-F]{6}$",
        initial="#4f6bed",
        widget=forms.TextInput(attrs={"type": "color"}),
    )


def _save(
    request: HttpRequest, form: forms.BaseForm, verb: Callable[[dict[str, Any]], Any], done: str, **rename: str
) -> bool:
    if not form.is_valid():
        return False
    try:
        verb(form.cleaned_data)
    except ValidationError as exc:
        apply_errors(form, exc, rename)
        return False
    messages.success(request, done)
    return True


def _settings_context(scope: Scope, **forms_: forms.BaseForm) -> dict[str, Any]:
    brand = scope.brand_id
    context: dict[str, Any] = {
        "lifecycle_form": LifecycleForm(instance=profile.lifecycle_policy(brand)),
        "tier_policy_form": TierPolicyForm(instance=profile.tier_policy(brand)),
        "binding_form": BindingPolicyForm(instance=profile.binding_policy(brand)),
        "tier_form": TierLevelForm(),
        "levels": [(lv, fen_to_yuan(lv.min_spend_fen)) for lv in profile.tier_levels(brand)],
    }
    context.update(forms_)
    return context


def _render(request: HttpRequest, scope: Scope, status: int = 200, **forms_: forms.BaseForm) -> HttpResponse:
    return render(request, "members/settings.html", _settings_context(scope, **forms_), status=status)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_POLICY)
@require_GET
def member_settings(request: HttpRequest) -> HttpResponse:
    return _render(request, require_scope(request))


def _policy_post(
    request: HttpRequest,
    form_class: type[forms.ModelForm],
    key: str,
    getter: Callable[[int], Any],
    verb: Callable[..., Any],
    done: str,
) -> HttpResponse:
    scope = require_scope(request)
    form = form_class(request.POST, instance=getter(scope.brand_id))
    if _save(request, form, lambda d: verb(scope, **d), done):
        return redirect("hq:member_settings")
    return _render(request, scope, 400, **{key: form})


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_POLICY)
@require_POST
def lifecycle_settings(request: HttpRequest) -> HttpResponse:
    return _policy_post(
        request,
        LifecycleForm,
        "lifecycle_form",
        profile.lifecycle_policy,
        profile.set_lifecycle_policy,
        _("Lifecycle thresholds saved. They apply at the next recompute."),
    )


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_POLICY)
@require_POST
def tier_policy_settings(request: HttpRequest) -> HttpResponse:
    return _policy_post(
        request,
        TierPolicyForm,
        "tier_policy_form",
        profile.tier_policy,
        profile.set_tier_policy,
        _("Tier policy saved."),
    )


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_POLICY)
@require_POST
def binding_settings(request: HttpRequest) -> HttpResponse:
    return _policy_post(
        request,
        BindingPolicyForm,
        "binding_form",
        profile.binding_policy,
        profile.set_binding_policy,
        _("Binding rules saved."),
    )


def _level_data(d: dict[str, Any]) -> dict[str, Any]:
    return {"code": d["code"], "name": d["name"], "rank": d["rank"], "min_spend_fen": d["min_spend"]}


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_POLICY)
@require_POST
def tier_level_create(request: HttpRequest) -> HttpResponse:
    scope = require_scope(request)
    form = TierLevelForm(request.POST)
    ok = _save(
        request,
        form,
        lambda d: profile.create_tier_level(scope, **_level_data(d)),
        _("Tier added."),
        min_spend_fen="min_spend",
    )
    if ok:
        return redirect("hq:member_settings")
    return _render(request, scope, 400, tier_form=form)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_POLICY)
@require_http_methods(["GET", "POST"])
def tier_level_edit(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    level = get_scoped(TierLevel, scope, pk=pk)
    initial = {
        "code": level.code,
        "name": level.name,
        "rank": level.rank,
        "min_spend": fen_to_yuan(level.min_spend_fen),
    }
    form = TierLevelForm(request.POST or None, initial=initial)
    form.fields["code"].disabled = True
    if request.method == "POST":
        if request.POST.get("delete"):
            try:
                profile.delete_tier_level(scope, pk)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
                return redirect("hq:tier_level_edit", pk=pk)
            messages.success(request, _("Tier deleted."))
            return redirect("hq:member_settings")
        ok = _save(
            request,
            form,
            lambda d: profile.update_tier_level(scope, pk, **_level_data(d)),
            _("Tier saved."),
            min_spend_fen="min_spend",
        )
        if ok:
            return redirect("hq:member_settings")
    status = 400 if request.method == "POST" else 200
    return render(request, "members/settings_tier.html", {"form": form, "level": level}, status=status)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_POLICY)
@require_POST
def member_recompute(request: HttpRequest) -> HttpResponse:
    summary = profile.recompute_now(require_scope(request))
    moved = sum(summary.lifecycle.values())
    messages.success(
        request,
        _("Recomputed in %(s).1f s: %(moved)d lifecycle changes, %(tiers)d tier changes.")
        % {"s": summary.seconds, "moved": moved, "tiers": summary.tier_changes},
    )
    return redirect("hq:member_settings")


# --- Tags ------------------------------------------------------------------------------------
def _tags_page(request: HttpRequest, scope: Scope, status: int = 200, **forms_: forms.BaseForm) -> HttpResponse:
    context: dict[str, Any] = {"groups": profile.tag_groups(scope), "group_form": TagGroupForm(), "tag_form": TagForm()}
    context.update(forms_)
    return render(request, "members/settings_tags.html", context, status=status)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_POLICY)
@require_http_methods(["GET", "POST"])
def tag_settings(request: HttpRequest) -> HttpResponse:
    """Tag groups and their tags; POST creates a group."""
    scope = require_scope(request)
    if request.method == "POST":
        form = TagGroupForm(request.POST)
        if _save(request, form, lambda d: profile.create_tag_group(scope, **d), _("Tag group added.")):
            return redirect("hq:tag_settings")
        return _tags_page(request, scope, 400, group_form=form)
    return _tags_page(request, scope)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_POLICY)
@require_http_methods(["GET", "POST"])
def tag_group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a group (POST ``form=group``) or add a tag to it (POST ``form=tag``)."""
    scope = require_scope(request)
    group = get_scoped(TagGroup, scope, pk=pk)
    group_form = TagGroupForm(instance=group)
    tag_form = TagForm()
    if request.method == "POST":
        if request.POST.get("form") == "tag":
            tag_form = TagForm(request.POST)
            ok = _save(request, tag_form, lambda d: profile.create_tag(scope, group=pk, **d), _("Tag added."))
        else:
            group_form = TagGroupForm(request.POST, instance=TagGroup.objects.get(pk=pk))
            ok = _save(request, group_form, lambda d: profile.update_tag_group(scope, pk, **d), _("Tag group saved."))
        if ok:
            return redirect("hq:tag_group_edit", pk=pk)
    group.refresh_from_db()
    status = 400 if request.method == "POST" else 200
    context = {"group": group, "tags": list(group.tags.all()), "group_form": group_form, "tag_form": tag_form}
    return render(request, "members/settings_tag_group.html", context, status=status)


@access(Perm.HQ_CONSOLE)
@access(Perm.MEMBERS_POLICY)
@require_POST
def tag_delete(request: HttpRequest, pk: int) -> HttpResponse:
    scope = require_scope(request)
    tag = get_scoped(Tag, scope, pk=pk)
    removed = profile.delete_tag(scope, pk)
    messages.success(request, _("Tag deleted; %(n)d customers held it.") % {"n": removed})
    return redirect("hq:tag_group_edit", pk=tag.group_id)


hq_urlpatterns = [
    path("settings/customers/", member_settings, name="member_settings"),
    path("settings/customers/lifecycle/", lifecycle_settings, name="lifecycle_settings"),
    path("settings/customers/tier-policy/", tier_policy_settings, name="tier_policy_settings"),
    path("settings/customers/binding/", binding_settings, name="binding_settings"),
    path("settings/customers/tiers/", tier_level_create, name="tier_level_create"),
    path("settings/customers/tiers/<int:pk>/", tier_level_edit, name="tier_level_edit"),
    path("settings/customers/recompute/", member_recompute, name="member_recompute"),
    path("settings/tags/", tag_settings, name="tag_settings"),
    path("settings/tags/<int:pk>/", tag_group_edit, name="tag_group_edit"),
    path("settings/tags/tag/<int:pk>/delete/", tag_delete, name="tag_delete"),
]
