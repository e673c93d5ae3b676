"""The one place a service checks that its caller holds a scope."""

from __future__ import annotations

from switchyard.core.errors import Forbidden
from switchyard.core.models import Principal
from switchyard.core.scopes import Scope, allows


def require(principal: Principal, scope: Scope) -> None:
    if not allows(principal.scopes, scope):
        raise Forbidden(
            f"this API key lacks the scope {scope.value!r}",
            code="auth.missing_scope",
            remediation=f"Use a key created with scope {scope.value!r}.",
            extra={"required_scope": scope.value},
        )
