"""A real S3 API on loopback: moto's server, for tests that keep packages in S3 instead of a directory.

Use the fixture (a fresh bucket on one server shared by the whole test process)::

    from tests.peers.moto import MotoS3, moto_s3  # noqa: F401  (the fixture is found by name)

    def test_upload_to_s3(moto_s3: MotoS3, tmp_path) -> None:
        settings = Settings(data_dir=tmp_path, **moto_s3.settings())
        ...
        assert moto_s3.keys() == ["packages/ten_1/my-connector-v1.0.0.zip"]

``moto_s3.env()`` gives the same as environment variables (``SWITCHYARD_CONNECTORS_STORAGE`` and
``SWITCHYARD_CONNECTORS_STORAGE_OPTIONS``) for a CLI or server subprocess; the server listens on
127.0.0.1, so a subprocess reaches it. ``running_moto_s3()`` starts a server of its own instead, and
``unreachable_s3()`` describes a store where nothing listens.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

ACCESS_KEY_ID = "AKIAMOTOTESTING00001"
SECRET_ACCESS_KEY = "moto-secret-key-3b9f1c7e5d2a"  # tests check that it never shows in a message
REGION = "us-east-1"
PREFIX = "packages"


@dataclass(frozen=True)
class MotoS3:
    """One bucket on a moto server: where it is, and how Switchyard is told to use it."""

    endpoint: str  # http://127.0.0.1:PORT
    bucket: str
    prefix: str = PREFIX
    secret_access_key: str = SECRET_ACCESS_KEY

    @property
    def url(self) -> str:
        """The value of SWITCHYARD_CONNECTORS_STORAGE."""
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def options(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "region": REGION,
            "access_key_id": ACCESS_KEY_ID,
            "secret_access_key": self.secret_access_key,
        }

    @property
    def options_json(self) -> str:
        """The value of SWITCHYARD_CONNECTORS_STORAGE_OPTIONS."""
        return json.dumps(self.options)

    def settings(self) -> dict[str, Any]:
        """Keyword arguments for ``Settings(...)``."""
        return {"connectors_storage": self.url, "connectors_storage_options": SecretStr(self.options_json)}

    def env(self) -> dict[str, str]:
        return {
            "SWITCHYARD_CONNECTORS_STORAGE": self.url,
            "SWITCHYARD_CONNECTORS_STORAGE_OPTIONS": self.options_json,
        }

    def client(self) -> Any:
        """A boto3 S3 client of the server (boto3 comes with moto), to look behind Switchyard's back."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=self.secret_access_key,
        )

    def keys(self) -> list[str]:
        """Every object key in the bucket (with the prefix), read straight from the server."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(self, key: str) -> bytes:
        """An object's bytes, by its full key (with the prefix)."""
        return bytes(self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read())


class MotoServer:
    def __init__(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""

    def start(self) -> MotoServer:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def new_bucket(self, prefix: str = PREFIX) -> MotoS3:
        bucket = f"switchyard-{uuid.uuid4().hex[:12]}"
        request = urllib.request.Request(f"{self.endpoint}/{bucket}", method="PUT")  # path-style CreateBucket
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200, answer.status
        return MotoS3(self.endpoint, bucket, prefix)


_shared: MotoServer | None = None
_lock = threading.Lock()


def shared_moto_server() -> MotoServer:
    """One moto server for the whole test process, started on first use (a daemon thread)."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = MotoServer().start()
        return _shared


@pytest.fixture
def moto_s3() -> MotoS3:
    """A fresh, empty bucket on the shared moto server."""
    return shared_moto_server().new_bucket()


@contextmanager
def running_moto_s3(prefix: str = PREFIX) -> Iterator[MotoS3]:
    """A moto server of its own, with one bucket, stopped on exit."""
    server = MotoServer().start()
    try:
        yield server.new_bucket(prefix)
    finally:
        server.stop()


def unreachable_s3() -> MotoS3:
    """An S3 store on a loopback port where nothing listens (bound once, then closed)."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return MotoS3(f"http://127.0.0.1:{port}", "nobody-home")
