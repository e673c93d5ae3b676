"""Bodies of the package API (``/api/v1/packages`` and seed 000's ``/apps``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from switchyard.core.models import PackageVersion
from switchyard.services.packages import PackageView, Uploaded


class PackageVersionOut(BaseModel):
    version: str
    sha256: str = Field(description="Hex SHA-256 of the archive as uploaded.")
    size: int = Field(description="Bytes of the archive.")
    object_key: str = Field(description="Where the archive is kept in the package store.")
    current: bool = Field(description="Whether this is the version in use.")
    actions: list[str]
    has_code: bool = Field(description="Whether the package carries Python code (run in the sandbox).")
    uploaded_at: datetime

    @classmethod
    def of(cls, version: PackageVersion, current_version: str) -> PackageVersionOut:
        return cls(
            version=version.version,
            sha256=version.sha256,
            size=version.size,
            object_key=version.object_key,
            current=version.version == current_version,
            actions=list(version.actions),
            has_code=version.has_code,
            uploaded_at=version.uploaded_at,
        )


class PackageOut(BaseModel):
    id: str
    name: str = Field(description="The connector id the package defines.")
    display_name: str
    description: str
    current_version: str
    latest_version: str
    versions: int = Field(description="How many versions are stored.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: PackageView) -> PackageOut:
        package = view.package
        return cls(
            id=package.id,
            name=package.name,
            display_name=package.display_name,
            description=package.description,
            current_version=package.current_version,
            latest_version=view.latest_version,
            versions=len(view.versions),
            created_at=package.created_at,
            updated_at=package.updated_at,
        )


class PackageList(BaseModel):
    packages: list[PackageOut]


class PackageVersionList(BaseModel):
    versions: list[PackageVersionOut] = Field(description="Newest version first.")


class UploadedOut(BaseModel):
    package: PackageOut
    version: PackageVersionOut

    @classmethod
    def of(cls, uploaded: Uploaded) -> UploadedOut:
        current = uploaded.view.package.current_version
        return cls(
            package=PackageOut.of(uploaded.view), version=PackageVersionOut.of(uploaded.version, current)
        )


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=64, description="A stored version to make current.")
