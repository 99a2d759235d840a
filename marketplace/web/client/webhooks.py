"""The client portal's webhooks: register endpoints, read each one's delivery log, redeliver.

Everything starts from the requester's organization (notifications.selectors and services);
another organization's ids are a 404. A new endpoint's secret is rendered in the answer to the
POST that created it and never again (not stored in a message: that would put it in a cookie).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from marketplace.errors import ApplicationError, NotFound
from marketplace.notifications import outbox, selectors, services
from marketplace.notifications.delivering import event_body
from marketplace.notifications.models import EventType
from marketplace.notifications.signing import body_encode
from marketplace.notifications.targets import MAX_URL_LENGTH, TargetRefused
from marketplace.web.access import client_required

DELIVERIES_PER_PAGE = 25


class WebhookForm(forms.Form):
    url = forms.CharField(
        label="URL", max_length=MAX_URL_LENGTH,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/quorum"}),
        help_text="https:// and a public address; Quorum checks it now and before every delivery.",
    )
    events = forms.MultipleChoiceField(
        choices=EventType.choices, widget=forms.CheckboxSelectMultiple, label="Events",
        initial=[EventType.JOB_COMPLETED, EventType.JOB_PAUSED, EventType.JOB_PROMISE_MISSED],
    )
    description = forms.CharField(label="Description", max_length=services.MAX_DESCRIPTION, required=False)


def _endpoint_or_404(request: HttpRequest, endpoint_id: int) -> Any:
    try:
        return services.webhook_endpoint_get(user=request.user, endpoint_id=endpoint_id)  # type: ignore[arg-type]
    except NotFound:
        raise Http404("No such webhook endpoint.") from None


@client_required
@never_cache  # the answer to a POST that created an endpoint carries its secret
def webhook_list(request: HttpRequest) -> HttpResponse:
    """/portal/webhooks/: the endpoints, and a form to add one (POST creates it)."""
    form = WebhookForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.webhook_endpoint_create(
                user=request.user, url=form.cleaned_data["url"],  # type: ignore[arg-type]
                events=form.cleaned_data["events"], description=form.cleaned_data["description"],
            )
        except ApplicationError as exc:
            form.add_error("url" if isinstance(exc, TargetRefused) else None, exc.message)
        else:
            created = {"endpoint": endpoint, "secret": secret}
            form = WebhookForm()
    ctx = {
        "endpoints": selectors.webhook_endpoints_of(user=request.user),  # type: ignore[arg-type]
        "form": form, "created": created, "event_types": EventType.choices,
    }
    return render(request, "client/webhooks.html", ctx, status=400 if form.errors else 200)


class RotateForm(forms.Form):
    keep_old_hours = forms.TypedChoiceField(
        label="The old secret keeps signing for", coerce=int, initial=services.DEFAULT_KEEP_OLD_HOURS,
        choices=[(0, "no time: stop it now (it leaked)"), (1, "1 hour"), (24, "24 hours"), (72, "3 days"),
                 (services.MAX_KEEP_OLD_HOURS, "7 days")],
    )


@client_required
def webhook_page(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """/portal/webhooks/<id>/: the endpoint and its delivery log with every attempt."""
    return _page(request, _endpoint_or_404(request, endpoint_id))


def _page(request: HttpRequest, endpoint: Any, *, rotated: str | None = None,
          form: RotateForm | None = None) -> HttpResponse:
    deliveries = selectors.deliveries_of(user=request.user, endpoint_id=endpoint.pk)  # type: ignore[arg-type]
    page = Paginator(deliveries.prefetch_related("attempt_log"), DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"delivery": d, "attempts": list(d.attempt_log.all()),
             "body": body_encode(event_body(d.event)).decode()} for d in page]
    ctx = {"endpoint": endpoint, "page": page, "rows": rows, "rotated": rotated,
           "rotate_form": form or RotateForm(), "previous_until": selectors.previous_secret_until(endpoint)}
    return render(request, "client/webhook_page.html", ctx, status=400 if form is not None and form.errors else 200)


@client_required
@require_POST
@never_cache  # the answer carries the new secret
def webhook_rotate(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """A new signing secret, shown in this answer only; the old one signs beside it for a while."""
    endpoint = _endpoint_or_404(request, endpoint_id)
    form = RotateForm(request.POST)
    if not form.is_valid():
        return _page(request, endpoint, form=form)
    endpoint, secret = services.webhook_endpoint_secret_rotate(
        user=request.user, endpoint_id=endpoint.pk,  # type: ignore[arg-type]
        keep_old_hours=form.cleaned_data["keep_old_hours"])
    return _page(request, endpoint, rotated=secret)


@client_required
@require_POST
def webhook_toggle(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(request, endpoint_id)
    services.webhook_endpoint_update(user=request.user, endpoint_id=endpoint.pk,  # type: ignore[arg-type]
                                     fields={"is_active": not endpoint.is_active})
    messages.success(request, "Turned off: nothing is sent to it." if endpoint.is_active else "Turned on again.")
    return redirect("client-webhook", endpoint_id=endpoint.pk)


@client_required
@require_POST
def webhook_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(request, endpoint_id)
    services.webhook_endpoint_delete(user=request.user, endpoint_id=endpoint.pk)  # type: ignore[arg-type]
    messages.success(request, "Deleted, with its delivery log.")
    return redirect("client-webhooks")


@client_required
@require_POST
def webhook_redeliver(request: HttpRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(request, endpoint_id)
    try:
        outbox.delivery_redeliver(user=request.user, delivery_id=delivery_id,  # type: ignore[arg-type]
                                  endpoint_id=endpoint.pk)
    except NotFound:
        raise Http404("No such delivery.") from None
    messages.success(request, "Sent again; the attempt is in the log below.")
    return redirect("client-webhook", endpoint_id=endpoint.pk)
