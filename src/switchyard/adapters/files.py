"""Files that hold state: every directory Switchyard creates is private to its user (0700)."""

from __future__ import annotations

from pathlib import Path


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with mode 0700; an existing directory is left as it is."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
