"""``/api/v1/packages``: upload, list, version, download, roll back and delete connector packages; seed
000's ``/apps`` routes are aliases of the same handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile, status

from switchyard.api.deps import ContainerDep, PrincipalDep
from switchyard.api.package_schemas import (
    PackageList,
    PackageOut,
    PackageVersionList,
    PackageVersionOut,
    RollbackIn,
    UploadedOut,
)
from switchyard.settings import Settings

router = APIRouter(prefix="/api/v1/packages", tags=["packages"])
apps = APIRouter(prefix="/apps", tags=["packages"])
UPLOAD_PREFIXES = (router.prefix, apps.prefix)
MULTIPART_OVERHEAD = 64 * 1024


def package_upload_limit(settings: Settings) -> int:
    """The request-body limit of an upload: the largest package and its multipart envelope."""
    return settings.package_max_bytes + MULTIPART_OVERHEAD


ArchiveField = Annotated[UploadFile, File(description="The package: a .zip with manifest.json at its root.")]
ForceField = Annotated[
    bool, Form(description="Accept a version that is not newer than the latest, or replace the same one.")
]


@router.post("", status_code=201, summary="Upload a package (multipart: file, force)")
@apps.post("", status_code=201, summary="Seed 000: upload a connector", operation_id="upload_app")
async def upload_package(
    principal: PrincipalDep, container: ContainerDep, file: ArchiveField, force: ForceField = False
) -> UploadedOut:
    data = await file.read()
    return UploadedOut.of(await container.packages.upload(principal, data, force=force))


@router.get("", summary="List the tenant's packages")
@apps.get("", summary="Seed 000: list connectors", operation_id="list_apps")
async def list_packages(principal: PrincipalDep, container: ContainerDep) -> PackageList:
    views = await container.packages.list(principal.tenant_id)
    return PackageList(packages=[PackageOut.of(view) for view in views])


@router.get("/{name}", summary="A package, by name or id")
@apps.get("/{name}", summary="Seed 000: a connector", operation_id="get_app")
async def get_package(name: str, principal: PrincipalDep, container: ContainerDep) -> PackageOut:
    return PackageOut.of(await container.packages.get(principal.tenant_id, name))


@router.delete("/{name}", status_code=204, summary="Delete a package, its versions and archives")
@apps.delete("/{name}", status_code=204, summary="Seed 000: delete a connector", operation_id="delete_app")
async def delete_package(name: str, principal: PrincipalDep, container: ContainerDep) -> Response:
    await container.packages.delete(principal, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{name}/versions", summary="A package's stored versions, newest first")
async def list_versions(name: str, principal: PrincipalDep, container: ContainerDep) -> PackageVersionList:
    view = await container.packages.get(principal.tenant_id, name)
    current = view.package.current_version
    return PackageVersionList(versions=[PackageVersionOut.of(v, current) for v in view.versions])


@router.get(
    "/{name}/download",
    summary="Download a version's archive (the current one by default)",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
async def download(
    name: str, principal: PrincipalDep, container: ContainerDep, version: str | None = None
) -> Response:
    stored, data = await container.packages.download(principal.tenant_id, name, version)
    filename = stored.object_key.rsplit("/", 1)[-1]  # seed 000's <name>-v<version>.zip
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Package-Sha256": stored.sha256,
        },
    )


@router.post("/{name}/rollback", summary="Make a stored version the current one")
async def rollback(
    name: str, body: RollbackIn, principal: PrincipalDep, container: ContainerDep
) -> PackageOut:
    return PackageOut.of(await container.packages.rollback(principal, name, body.version))
