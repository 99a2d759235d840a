"""The marketplace's own rules, read from the environment (README, Configuration): pay and its
holds, undo, appeals, pre-labels' control group, expert reviews. marketplace/settings.py imports
every name here; Django reads them as settings."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from marketplace.env import env_decimal, env_int

# Billing: worker earnings stay pending this many days before they can be paid out, and a
# payout request must be at least this amount (currency units, Decimal).
QUORUM_EARNINGS_HOLD_DAYS = env_int("QUORUM_EARNINGS_HOLD_DAYS", 7, minimum=0)
# Earnings past the hold are released on a schedule, every this many minutes (marketplace/periodic.py:
# Celery beat under QUORUM_TASKS=celery, a timer thread in each server process otherwise).
QUORUM_EARNINGS_RELEASE_MINUTES = env_int("QUORUM_EARNINGS_RELEASE_MINUTES", 10, minimum=0)
# How often pay owed from escrows is posted to workers' pending accounts (billing/posting.py);
# a submit only records it. Settlement and the release post whatever is left (0: never, for tests).
QUORUM_PAY_POST_SECONDS = env_int("QUORUM_PAY_POST_SECONDS", 5, minimum=0)
# A labeling page holds its items this long at a time and renews them while it is open (a
# heartbeat every third of it); a tab that dies without a word frees its items within that time.
QUORUM_PAGE_LEASE_SECONDS = env_int("QUORUM_PAGE_LEASE_SECONDS", 90, minimum=15)
# A worker may undo their last answer this long after sending it, while its item is still open.
QUORUM_UNDO_SECONDS = env_int("QUORUM_UNDO_SECONDS", 10, minimum=0)
# In a job that hides gold feedback, the counts a worker reads of themselves there take in only
# answers older than this, and move once a period (quality/own_figures.py): live ones would tell
# check items apart, and within the undo window let a worker retry a missed one.
QUORUM_GOLD_FIGURES_LAG_SECONDS = env_int("QUORUM_GOLD_FIGURES_LAG_SECONDS", 3600, minimum=1)
if QUORUM_GOLD_FIGURES_LAG_SECONDS < QUORUM_UNDO_SECONDS:
    raise ImproperlyConfigured(
        "QUORUM_GOLD_FIGURES_LAG_SECONDS must be at least QUORUM_UNDO_SECONDS "
        f"({QUORUM_UNDO_SECONDS}): a counted answer must be past undoing; got {QUORUM_GOLD_FIGURES_LAG_SECONDS}"
    )
# How often the completed item counts the work list shows in such jobs are recorded, once per step
# of that cutoff (quality/progress.py; 0: never): a step a tick misses shows the step before.
QUORUM_PROGRESS_SNAPSHOT_SECONDS = env_int("QUORUM_PROGRESS_SNAPSHOT_SECONDS", 60, minimum=0)
QUORUM_MIN_PAYOUT = env_decimal("QUORUM_MIN_PAYOUT", "10.00")
# A quality rule's block may withdraw at most this share (0..1) of a worker's pay in a job on its
# own; above it the block stands but the withdrawal waits for an admin (marketplace/flows_appeals.py).
QUORUM_WITHDRAW_REVIEW_SHARE = env_decimal("QUORUM_WITHDRAW_REVIEW_SHARE", "0.50")
# In a job that shows pre-labels, this share (0..1) of (item, worker) pairs get no suggestion: a
# control group of blind judgments, chosen by a hash of the pair, that measures anchoring
# (labeling/prelabels.py, quality/label_quality.py).
QUORUM_PRELABEL_BLIND_SHARE = env_decimal("QUORUM_PRELABEL_BLIND_SHARE", "0.10")
if QUORUM_PRELABEL_BLIND_SHARE > 1:
    raise ImproperlyConfigured(f"QUORUM_PRELABEL_BLIND_SHARE must be from 0 to 1; got {QUORUM_PRELABEL_BLIND_SHARE}")
# Expert review (billing/expert_pay.py): a worker expert earns the pay per review they settle; a
# client pays the price per review they send (held in the job's escrow). Reviews Quorum queued
# itself are paid from its revenue. The price must cover the pay (Quorum's margin is the rest).
QUORUM_EXPERT_REVIEW_PAY = env_decimal("QUORUM_EXPERT_REVIEW_PAY", "0.25")
QUORUM_EXPERT_REVIEW_PRICE = env_decimal("QUORUM_EXPERT_REVIEW_PRICE", "0.40")
if QUORUM_EXPERT_REVIEW_PAY < 0 or QUORUM_EXPERT_REVIEW_PRICE < QUORUM_EXPERT_REVIEW_PAY:
    raise ImproperlyConfigured(
        "QUORUM_EXPERT_REVIEW_PRICE must be at least QUORUM_EXPERT_REVIEW_PAY, and the pay at least 0; "
        f"got price {QUORUM_EXPERT_REVIEW_PRICE}, pay {QUORUM_EXPERT_REVIEW_PAY}"
    )
# Days a worker has to appeal an automatic block or a missed gold answer (quality/appeals.py).
QUORUM_APPEAL_DAYS = env_int("QUORUM_APPEAL_DAYS", 7, minimum=1)
# A dynamic job passes over a worker whose expected accuracy, even one standard deviation up,
# stays under a floor this share of the way from chance to perfect (quality/serving.py; 0: serves
# everyone, as a fixed-overlap job does).
QUORUM_DYNAMIC_SERVE_MARGIN = env_decimal("QUORUM_DYNAMIC_SERVE_MARGIN", "0.2")
if not 0 <= QUORUM_DYNAMIC_SERVE_MARGIN < 1:
    raise ImproperlyConfigured(f"QUORUM_DYNAMIC_SERVE_MARGIN must be from 0 to below 1; got {QUORUM_DYNAMIC_SERVE_MARGIN}")
