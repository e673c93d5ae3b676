"""Saved servers of the remote commands: ``switchyard login`` writes a profile (API URL and key), and every
command that talks to a Switchyard server over HTTP finds its server through one.

The profiles file (``Settings.resolved_profiles_file``: ``SWITCHYARD_PROFILES_FILE``, default
``$XDG_CONFIG_HOME/switchyard/profiles.json`` else ``~/.config/switchyard/profiles.json``) holds API keys,
so it is written 0600 in a 0700 directory, replaced atomically, and refused when other users may read it::

    {"profiles": {"default": {"api_url": "https://switchyard.example.com", "token": "sy_..."}}}

Explicit ``--api-url`` and ``--token`` win over the profile's values.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from switchyard.core.errors import ConfigurationError, InvalidInput
from switchyard.settings import Settings

DEFAULT_PROFILE = "default"
PROFILE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"

ApiUrlOption = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        metavar="URL",
        help="The Switchyard server, e.g. https://switchyard.example.com (default: the profile's).",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        metavar="KEY",
        help="An API key of the tenant on that server (default: the profile's).",
        show_default=False,
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        metavar="NAME",
        help=f"A profile saved by `switchyard login` (default: {DEFAULT_PROFILE!r}).",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class Profile:
    api_url: str
    token: str

    def __repr__(self) -> str:  # never show the key
        return f"Profile(api_url={self.api_url!r}, token='***')"


def normalise_url(url: str) -> str:
    cleaned = url.strip().rstrip("/")
    if not cleaned.startswith(("http://", "https://")) or cleaned in ("http:", "https:"):
        raise InvalidInput(
            f"{url!r} is not an http(s) URL",
            code="cli.invalid_api_url",
            remediation="Pass the server's base URL, e.g. --api-url https://switchyard.example.com.",
        )
    return cleaned


def check_profile_name(name: str) -> str:
    if not re.fullmatch(PROFILE_NAME, name):
        raise InvalidInput(
            f"invalid profile name {name!r}",
            code="cli.invalid_profile_name",
            remediation="Use 1-63 letters, digits, '_', '.' and '-', starting with a letter or digit.",
        )
    return name


def load_profiles(path: Path) -> dict[str, Profile]:
    """Every saved profile; an absent file is no profiles."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if stat.S_IMODE(mode) & 0o077:
        raise ConfigurationError(
            f"the profiles file {path} may be read by other users (it holds API keys)",
            code="cli.profiles_permissions",
            remediation=f"Run: chmod 600 {path}",
        )
    try:
        document = json.loads(path.read_text("utf-8"))
        entries = document["profiles"]
        return {
            name: Profile(api_url=str(entry["api_url"]), token=str(entry["token"]))
            for name, entry in entries.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ConfigurationError(
            f"the profiles file {path} is not readable as profiles",
            code="cli.profiles_invalid",
            remediation="Fix it, or remove it and run `switchyard login` again.",
        ) from None


def save_profile(path: Path, name: str, profile: Profile) -> None:
    """Add or replace one profile; the file is replaced atomically, 0600, in a 0700 directory."""
    profiles = load_profiles(path)
    profiles[name] = profile
    document: dict[str, Any] = {
        "profiles": {
            key: {"api_url": value.api_url, "token": value.token} for key, value in sorted(profiles.items())
        }
    }
    directory = path.parent
    if not directory.exists():
        directory.mkdir(parents=True, mode=0o700)
        directory.chmod(0o700)  # mkdir's mode is masked by the umask
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".profiles-", suffix=".tmp")
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def resolve(settings: Settings, api_url: str | None, token: str | None, profile: str | None) -> Profile:
    """The server a remote command talks to: explicit flags, else the named (or default) profile."""
    path = settings.resolved_profiles_file
    name = profile or DEFAULT_PROFILE
    saved = load_profiles(path).get(name)
    if profile is not None and saved is None:
        raise InvalidInput(
            f"no profile named {profile!r} in {path}",
            code="cli.profile_not_found",
            remediation=f"Run: switchyard login --profile {profile} --api-url URL",
        )
    url = api_url or (saved.api_url if saved else None)
    key = token or (saved.token if saved else None)
    if url is None or key is None:
        missing = "server URL" if url is None else "API key"
        raise InvalidInput(
            f"no {missing} given and no saved profile {name!r}",
            code="cli.not_logged_in",
            remediation="Run `switchyard login --api-url URL` first, or pass --api-url and --token.",
        )
    return Profile(api_url=normalise_url(url), token=key)


def named(settings: Settings, name: str) -> Profile:
    """A saved profile by name (``migrate --from/--to``)."""
    return resolve(settings, None, None, check_profile_name(name))
