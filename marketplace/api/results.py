"""/api/v1/jobs/<id>/results/ with consensus: the plain export (api/items.py) plus the latest
consensus run's labels and a `source` column (quality/results.py supplies the lookup)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view

from marketplace.api.items import JobResults
from marketplace.jobs import exporting
from marketplace.jobs.models import Job
from marketplace.quality.results import consensus_lookup_for


@extend_schema_view(
    get=extend_schema(
        summary="Stream the results: latest consensus run, expert-settled items marked source=expert"
    )
)
class JobResultsWithConsensus(JobResults):
    """jobs' results export with the latest run's labels and a `source` column."""

    source_column = True

    def consensus_lookup(self, job: Job) -> exporting.ConsensusLookup | None:
        return consensus_lookup_for(job=job)
