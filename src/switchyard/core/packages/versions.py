"""Semantic Versioning 2.0.0 precedence (semver.org, section 11), for ordering package versions.

Major, minor and patch compare numerically; a pre-release is lower than its release; pre-release
identifiers compare one by one, numeric ones numerically and below alphanumeric ones, which compare in
ASCII order, and a shorter list of equal identifiers is lower. Build metadata (``+...``) is ignored.
"""

from __future__ import annotations

import re

from switchyard.core.errors import InvalidInput
from switchyard.core.manifest.schema import SEMVER

_SEMVER = re.compile(SEMVER)

Identifier = tuple[int, int, str]  # (0, number, "") for numeric identifiers, (1, 0, text) for the others
VersionKey = tuple[int, int, int, int, tuple[Identifier, ...]]


def semver_key(version: str) -> VersionKey:
    """A sort key whose order is SemVer precedence; ``InvalidInput`` for a version that is not SemVer."""
    match = _SEMVER.fullmatch(version)
    if match is None:
        raise InvalidInput(
            f"{version[:64]!r} is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])",
            code="package.version_invalid",
            remediation="Write the version as in 1.4.0 or 2.0.0-beta.1.",
        )
    major, minor, patch, prerelease = match.group(1), match.group(2), match.group(3), match.group(4)
    if not prerelease:
        return (int(major), int(minor), int(patch), 1, ())
    identifiers = tuple(_identifier(part) for part in prerelease[1:].split("."))
    return (int(major), int(minor), int(patch), 0, identifiers)


def _identifier(part: str) -> Identifier:
    return (0, int(part), "") if part.isdigit() else (1, 0, part)


def is_newer(candidate: str, than: str) -> bool:
    """Whether ``candidate`` has higher precedence than ``than`` (``1.0.0+build`` is not newer than ``1.0.0``)."""
    return semver_key(candidate) > semver_key(than)
