"""The typed async Python client of Switchyard.

    from switchyard.client import Switchyard

    async with Switchyard("http://127.0.0.1:8000", "syk_...") as switchyard:
        result = await switchyard.test_connector_connection("con_...")
        connector = await switchyard.create_sdk_connector_instance("con_...")
        try:
            print(await connector.generate_text("Hello world!"))
        finally:
            await connector.cleanup()

See ``docs/client.md``.
"""

from switchyard.client.api import Switchyard, get_connector
from switchyard.client.connector import ActionMethod, Connector
from switchyard.client.errors import (
    BadRequest,
    BadResponse,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RequestError,
    ServerError,
    SwitchyardClientError,
    Unauthorized,
    Unavailable,
    UnknownAction,
    Unreachable,
    UpstreamFailed,
    UsageError,
)
from switchyard.client.models import (
    ActionInfo,
    ActionResult,
    Connection,
    ConnectionPage,
    Credentials,
    ProxyResponse,
    TestResult,
)

__all__ = [
    "ActionInfo",
    "ActionMethod",
    "ActionResult",
    "BadRequest",
    "BadResponse",
    "Conflict",
    "Connection",
    "ConnectionPage",
    "Connector",
    "Credentials",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "ProxyResponse",
    "RateLimited",
    "RequestError",
    "ServerError",
    "Switchyard",
    "SwitchyardClientError",
    "TestResult",
    "Unauthorized",
    "Unavailable",
    "UnknownAction",
    "Unreachable",
    "UpstreamFailed",
    "UsageError",
    "get_connector",
]
