"""``switchyard login``: check an API key against a Switchyard server and save it as a profile."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from switchyard.cli.output import JsonOption, print_json, read_hidden, say
from switchyard.cli.packages import with_remote
from switchyard.cli.profiles import (
    DEFAULT_PROFILE,
    Profile,
    TokenOption,
    check_profile_name,
    load_profiles,
    normalise_url,
    save_profile,
)
from switchyard.cli.remote import Remote
from switchyard.cli.runtime import configure_logging, load_settings
from switchyard.core.errors import InvalidInput


def login(
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            metavar="URL",
            help="The Switchyard server, e.g. https://switchyard.example.com (default: the profile's).",
            show_default=False,
        ),
    ] = None,
    token: TokenOption = None,
    profile: Annotated[
        str, typer.Option("--profile", metavar="NAME", help="The name to save the profile under.")
    ] = DEFAULT_PROFILE,
    as_json: JsonOption = False,
) -> None:
    """Check an API key against a Switchyard server and save both as a profile (0600 file) that the
    connectors commands (upload, download, versions, ... and list --profile) use. Without --token the key
    is read from stdin, or asked for without echo on a terminal. The key is never printed."""
    settings = load_settings()
    configure_logging(settings)
    check_profile_name(profile)
    path = settings.resolved_profiles_file
    saved = load_profiles(path).get(profile)
    url = api_url or (saved.api_url if saved else None)
    if url is None:
        raise InvalidInput(
            f"no server given for the new profile {profile!r}",
            code="cli.api_url_required",
            remediation="Pass --api-url https://your-switchyard-server.",
        )
    key = (token if token is not None else read_hidden("API key")).strip()
    if not key:
        raise InvalidInput("the API key is empty", code="cli.token_required", remediation="Pass --token KEY.")
    target = Profile(api_url=normalise_url(url), token=key)

    async def check(remote: Remote) -> tuple[int, dict[str, Any] | None]:
        packages = await remote.packages()  # any valid key may read them
        return len(packages), await remote.tenant()

    count, tenant = with_remote(target, check)
    save_profile(path, profile, target)
    tenant_name = tenant.get("name") if tenant else None
    if as_json:
        print_json(
            {
                "profile": profile,
                "api_url": target.api_url,
                "tenant": tenant_name,
                "packages": count,
                "profiles_file": str(path),
            }
        )
        return
    who = f" (tenant {tenant_name})" if tenant_name else ""
    say(f"logged in to {target.api_url}{who}; {count} package(s) there")
    say(f"saved profile {profile!r} in {path}")
