"""GitHub hooks: answers that take more than one REST call."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from switchyard.core.errors import ProviderRejected
from switchyard.services.hooks import HookContext


async def repository_overview(ctx: HookContext, payload: dict[str, Any]) -> dict[str, Any]:
    """A repository's summary with its languages as shares of the code, from two calls."""
    base = f"/repos/{quote(payload['owner'], safe='')}/{quote(payload['repo'], safe='')}"
    repository = await ctx.http.request("GET", base)
    if repository.status != 200:
        raise ProviderRejected(
            f"GitHub answered {repository.status} for {payload['owner']}/{payload['repo']}",
            code="provider.not_found" if repository.status == 404 else "provider.rejected",
            upstream_status=repository.status,
            status=404 if repository.status == 404 else None,
        )
    languages = await ctx.http.request("GET", base + "/languages")
    sizes: dict[str, int] = languages.json() if languages.status == 200 else {}
    total = sum(sizes.values()) or 1
    details = repository.json()
    return {
        "full_name": details.get("full_name"),
        "description": details.get("description"),
        "stars": details.get("stargazers_count", 0),
        "open_issues": details.get("open_issues_count", 0),
        "default_branch": details.get("default_branch"),
        "languages": {name: round(100 * size / total, 1) for name, size in sizes.items()},
    }
