"""``/healthz`` (the process answers), ``/readyz`` (database reachable, schema current), ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from switchyard.api.deps import ContainerDep
from switchyard.api.problems import problem
from switchyard.api.schemas import Health
from switchyard.core.errors import SwitchyardError

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz", summary="Readiness: the database answers and its schema is current", response_model=None
)
async def readyz(container: ContainerDep) -> Health | JSONResponse:
    try:
        current = await container.db.schema_is_current()
    except SwitchyardError as exc:
        return problem(
            503, exc.code, exc.detail, remediation=exc.remediation, extra={"checks": {"database": "down"}}
        )
    if not current:
        return problem(
            503,
            "database.schema_outdated",
            "the database schema is not at the newest migration",
            remediation="Run: switchyard db upgrade",
            extra={"checks": {"database": "ok", "migrations": "outdated"}},
        )
    return Health(status="ok", checks={"database": "ok", "migrations": "current"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
