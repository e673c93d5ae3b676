"""Live checks of a connection's credentials with the definition's verification request.

Used by "test connection" (seed 001) and before a directly entered API key or password is stored: the
provider's own answer decides, and its reason is passed on when it refuses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from switchyard.core.auth import inject
from switchyard.core.errors import InvalidInput, SwitchyardError
from switchyard.core.http import HttpRequest
from switchyard.core.manifest import templates
from switchyard.core.manifest.schema import Definition, Injection
from switchyard.io_ports import HttpSender


@dataclass(frozen=True)
class Verdict:
    success: bool
    status: int | None = None
    error: str | None = None
    code: str | None = None
    account_id: str | None = None


def _dig(document: Any, path: str | None) -> str | None:
    if not path:
        return None
    for part in path.split("."):
        if not isinstance(document, Mapping) or part not in document:
            return None
        document = document[part]
    return None if document is None else str(document)


def _reason(body: bytes) -> str:
    """A short, printable reason from a provider's refusal (its own message when it has one)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace").strip()[:200]
    if isinstance(payload, Mapping):
        for key in ("message", "error_description", "error", "detail"):
            if isinstance(payload.get(key), str):
                return str(payload[key])[:200]
    return json.dumps(payload)[:200]


class Verifier:
    def __init__(self, http: HttpSender) -> None:
        self.http = http

    async def check(
        self,
        definition: Definition,
        rule: Injection | None,
        credentials: Mapping[str, Any],
        config: Mapping[str, Any],
    ) -> Verdict:
        verification, proxy = definition.verification, definition.proxy
        if verification is None or proxy is None:
            raise InvalidInput(
                f"{definition.name} has no verification request", code="connection.not_verifiable"
            )
        base = templates.render(proxy.base_url, config, url_component=True).rstrip("/")
        path = templates.render(verification.path, config, url_component=True)
        injected = inject.apply(rule, credentials, config)
        url = (
            base
            + path
            + (("&" if "?" in path else "?") + urlencode(injected.query) if injected.query else "")
        )
        headers = {**proxy.headers, **injected.headers}
        try:
            answer = await self.http.send(HttpRequest(verification.method, url, headers, {}))
        except SwitchyardError as exc:
            return Verdict(False, error=exc.detail, code=exc.code)
        if answer.status in verification.expect_status:
            account = None
            if verification.account_id_path:
                try:
                    account = _dig(json.loads(answer.body), verification.account_id_path)
                except ValueError:
                    account = None
            return Verdict(True, answer.status, account_id=account)
        reason = f"{definition.display_name} answered {answer.status}: {_reason(answer.body)}"
        return Verdict(False, answer.status, reason, "connection.verification_failed")
