"""The tenant's audit trail: every attempt to open a vault value (who, why, outcome), newest first."""

from __future__ import annotations

from switchyard.core.errors import InvalidInput
from switchyard.core.models import AccessRecord, Page, Principal
from switchyard.core.scopes import Scope
from switchyard.ports import Database
from switchyard.services.authz import require

OUTCOMES = ("ok", "failed")
DEFAULT_PAGE = 50
MAX_PAGE = 200
MAX_ACTOR = 128  # the column's width


class AuditService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def access_log(
        self,
        principal: Principal,
        *,
        before: str | None = None,
        limit: int = DEFAULT_PAGE,
        outcome: str | None = None,
        actor: str | None = None,
    ) -> Page[AccessRecord]:
        """The tenant's vault access records, newest first; ``before`` is the previous page's cursor."""
        require(principal, Scope.SECRETS_READ)  # admin holds it too
        if outcome and outcome not in OUTCOMES:
            raise InvalidInput(
                f"unknown outcome {outcome[:40]!r}",
                code="audit.invalid_outcome",
                remediation=f"Use one of: {', '.join(OUTCOMES)}.",
            )
        if actor and len(actor) > MAX_ACTOR:
            raise InvalidInput(f"an actor has at most {MAX_ACTOR} characters", code="audit.invalid_actor")
        async with self.db.transaction(write=False) as tx:
            return await tx.access_log.tenant_page(
                principal.tenant_id,
                before=before or None,
                limit=max(1, min(limit, MAX_PAGE)),
                outcome=outcome or None,
                actor=actor or None,
            )
