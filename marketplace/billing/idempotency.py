"""One rule for every idempotent POST on a job (an escrow addition, more judgments, expert
review), as for payouts: the same Idempotency-Key with the same body answers the first response
again and changes nothing; the same key with another body, or on another of these endpoints, is
a 409 naming what differs. A key is scoped to its job: on another job it is a new request.

A caller, in one transaction: `request_claim` first (before any row lock), then its work, then
`request_record` with the answer. The claim is a transaction-level advisory lock on the key
(ledger.reference_claim), so a concurrent copy of a request waits for the first to commit and
then finds its stored answer: the copies never both do the work.
"""

from __future__ import annotations

import json
from typing import Any

from marketplace.billing import ledger
from marketplace.billing.models import IdempotentRequest
from marketplace.errors import Conflict
from marketplace.jobs.models import Job

Operation = IdempotentRequest.Operation


class RequestConflict(Conflict):
    """The key already made another request. The API answers it as any 409 (its message names
    the Idempotency-Key header the caller sent); a page that makes its own keys words it for
    the page instead (web/client/browse.py), since its user never typed one."""


def request_body(body: dict[str, Any]) -> dict[str, Any]:
    """The body as stored and compared: JSON values only (a Decimal as its string), keys sorted."""
    return json.loads(json.dumps(body, sort_keys=True, default=str))


def request_claim(*, job: Job, key: str, operation: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """Hold `key` on this job until commit, then: None (a new request: do it, then record it),
    or the first response when the key already made this very request. RequestConflict (a 409)
    when the key made another request (another body, or another endpoint)."""
    ledger.reference_claim(f"job:{job.pk}:request:{key}")
    first = IdempotentRequest.objects.filter(job_id=job.pk, key=key).first()
    if first is None:
        return None
    wanted = request_body(body)
    if first.operation == operation and first.body == wanted:
        return first.response
    if first.operation != operation:
        clash = f"was already used on this job for {Operation(first.operation).label}"
        differs = ["operation"]
    else:
        differs = sorted(k for k in first.body.keys() | wanted.keys() if first.body.get(k) != wanted.get(k))
        clash = f"was already sent with another {', '.join(differs)} ({_shown(first.body, differs)})"
    raise RequestConflict(
        f"This Idempotency-Key {clash}; send the same request to get its answer again, or use a new key.",
        details={"idempotency_key": key, "differs": differs,
                 "first": {"operation": first.operation, "body": first.body}},
    )


def request_record(*, job: Job, key: str, operation: str, body: dict[str, Any], response: dict[str, Any]) -> None:
    """Keep the answer of a request `request_claim` found new, in the same transaction."""
    IdempotentRequest.objects.create(job_id=job.pk, key=key, operation=operation, body=request_body(body),
                                     response=request_body(response))


def _shown(body: dict[str, Any], fields: list[str]) -> str:
    shown = ", ".join(f"{name} {json.dumps(body.get(name))[:60]}" for name in fields)
    return f"first: {shown}"
