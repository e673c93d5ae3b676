"""The package store over obstore: one contract for a local directory and for S3 (moto on loopback), a
store that is down, and storage settings that are wrong."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from switchyard.adapters.package_store import ObjectPackageStore, package_store_from_settings
from switchyard.core.errors import ConfigurationError, NotFound, Unavailable
from switchyard.settings import Settings
from tests.peers.moto import SECRET_ACCESS_KEY, MotoS3, moto_s3, unreachable_s3  # noqa: F401

ARCHIVE = b"PK\x05\x06" + bytes(18)  # any bytes do; an empty zip looks the part


def settings(tmp_path: Path, storage: str | None = None, options: Any = None) -> Settings:
    text = options if isinstance(options, str) or options is None else json.dumps(options)
    return Settings(
        data_dir=tmp_path / "data",
        connectors_storage=storage,
        connectors_storage_options=SecretStr(text) if text is not None else None,
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectPackageStore]:
    if request.param == "local":
        yield package_store_from_settings(settings(tmp_path))
    else:
        bucket: MotoS3 = request.getfixturevalue("moto_s3")
        yield package_store_from_settings(Settings(data_dir=tmp_path, **bucket.settings()))


async def test_put_get_keys_delete(store: ObjectPackageStore) -> None:
    await store.put("ten_1/my-connector-v1.0.0.zip", ARCHIVE)
    await store.put("ten_1/my-connector-v1.1.0.zip", ARCHIVE + b"1")
    await store.put("ten_1/other-v1.0.0.zip", b"other")
    await store.put("ten_2/my-connector-v1.0.0.zip", b"another tenant")
    assert await store.get("ten_1/my-connector-v1.1.0.zip") == ARCHIVE + b"1"
    assert await store.keys("ten_1/") == [
        "ten_1/my-connector-v1.0.0.zip",
        "ten_1/my-connector-v1.1.0.zip",
        "ten_1/other-v1.0.0.zip",
    ]
    assert await store.keys("ten_1/my-connector-v") == [
        "ten_1/my-connector-v1.0.0.zip",
        "ten_1/my-connector-v1.1.0.zip",
    ]
    assert await store.keys("ten_3/") == []
    assert len(await store.keys("")) == 4
    await store.delete("ten_1/my-connector-v1.0.0.zip")
    assert await store.keys("ten_1/my-connector-v") == ["ten_1/my-connector-v1.1.0.zip"]
    assert await store.get("ten_2/my-connector-v1.0.0.zip") == b"another tenant"


async def test_a_put_replaces_the_object(store: ObjectPackageStore) -> None:
    await store.put("ten_1/a-v1.0.0.zip", b"first")
    await store.put("ten_1/a-v1.0.0.zip", b"second")
    assert await store.get("ten_1/a-v1.0.0.zip") == b"second"
    assert await store.keys("ten_1/") == ["ten_1/a-v1.0.0.zip"]


async def test_a_missing_object(store: ObjectPackageStore) -> None:
    with pytest.raises(NotFound) as caught:
        await store.get("ten_1/missing-v1.0.0.zip")
    assert caught.value.code == "package.object_missing"
    await store.delete("ten_1/missing-v1.0.0.zip")  # deleting what is not there is no error


async def test_the_default_store_is_a_private_directory_under_the_data_dir(tmp_path: Path) -> None:
    store = package_store_from_settings(settings(tmp_path))
    assert store.kind == "local directory"
    root = tmp_path / "data" / "connectors"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    await store.put("ten_1/a-v1.0.0.zip", ARCHIVE)
    assert (root / "ten_1" / "a-v1.0.0.zip").read_bytes() == ARCHIVE
    assert sorted(p.name for p in (root / "ten_1").iterdir()) == ["a-v1.0.0.zip"]  # no staging file left


@pytest.mark.parametrize("form", ["path", "file-url"])
async def test_a_local_directory_by_path_or_file_url(tmp_path: Path, form: str) -> None:
    target = tmp_path / "packages"
    location = str(target) if form == "path" else target.as_uri()
    store = package_store_from_settings(settings(tmp_path, location))
    await store.put("ten_1/a-v1.0.0.zip", ARCHIVE)
    assert (target / "ten_1" / "a-v1.0.0.zip").read_bytes() == ARCHIVE
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


async def test_s3_objects_are_kept_under_the_prefix(tmp_path: Path, moto_s3: MotoS3) -> None:  # noqa: F811
    store = package_store_from_settings(Settings(data_dir=tmp_path, **moto_s3.settings()))
    assert store.kind == "S3"
    await store.put("ten_1/my-connector-v1.0.0.zip", ARCHIVE)
    assert moto_s3.keys() == ["packages/ten_1/my-connector-v1.0.0.zip"]
    assert moto_s3.read("packages/ten_1/my-connector-v1.0.0.zip") == ARCHIVE


async def test_a_store_that_is_down_is_unavailable_without_the_secret(tmp_path: Path) -> None:
    down = unreachable_s3()
    store = package_store_from_settings(Settings(data_dir=tmp_path, **down.settings()))
    started = time.monotonic()
    for call in (
        store.put("ten_1/a-v1.0.0.zip", ARCHIVE),
        store.get("ten_1/a-v1.0.0.zip"),
        store.delete("ten_1/a-v1.0.0.zip"),
        store.keys("ten_1/"),
    ):
        with pytest.raises(Unavailable) as caught:
            await call
        error = caught.value
        assert error.code == "storage.unavailable"
        assert "S3" in error.detail
        shown = f"{error} {error.detail} {error.remediation} {error.extra} {error!r}"
        assert SECRET_ACCESS_KEY not in shown
        assert error.__cause__ is None and error.__suppress_context__
    assert time.monotonic() - started < 30  # a few quick retries, not obstore's three minutes


@pytest.mark.parametrize(
    ("storage", "options", "says"),
    [
        ("ftp://host/packages", None, "scheme 'ftp'"),
        ("s3://", None, "names no bucket"),
        ("file://host/srv/packages", None, "file:///"),
        ("s3://bucket", "{not json", "is not JSON"),
        ("s3://bucket", '["a"]', "must be a JSON object"),
        ("s3://bucket", {"endpoint": {"nested": 1}}, "'endpoint'"),
        ("s3://bucket", {"client_options": "x"}, "client_options"),
        ("s3://bucket", {"max_retries": -1}, "max_retries"),
        ("s3://bucket", {"bogus_key": "1", "secret_access_key": SECRET_ACCESS_KEY}, "bogus_key"),
        ("s3://bucket", {"timeout": "soon", "secret_access_key": SECRET_ACCESS_KEY}, "S3 store"),
        ("az://container/prefix", {"account_key": SECRET_ACCESS_KEY}, "Azure store"),
    ],
)
def test_bad_storage_settings_are_configuration_errors(
    tmp_path: Path, storage: str, options: Any, says: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        package_store_from_settings(settings(tmp_path, storage, options))
    error = caught.value
    assert says in error.detail
    assert SECRET_ACCESS_KEY not in f"{error.detail} {error.remediation} {error!r}"


def test_options_in_bad_json_are_not_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        package_store_from_settings(
            settings(tmp_path, "s3://bucket", '{"secret_access_key": "' + SECRET_ACCESS_KEY)
        )
    assert SECRET_ACCESS_KEY not in caught.value.detail


@pytest.mark.parametrize(
    ("storage", "options", "kind"),
    [
        ("gs://bucket/prefix", {}, "GCS"),
        ("az://container/prefix", {"account_name": "acct", "account_key": "a2V5a2V5"}, "Azure"),
        ("azure://container", {"account_name": "acct", "account_key": "a2V5a2V5"}, "Azure"),
        ("s3://bucket/prefix", {"endpoint": "http://127.0.0.1:9", "allow_http": True}, "S3"),
        (
            "s3://bucket",
            {"AWS_ALLOW_HTTP": "true", "connect_timeout": 2},
            "S3",
        ),  # a client option by a store name
    ],
)
def test_cloud_stores_are_built_from_their_urls(
    tmp_path: Path, storage: str, options: dict[str, Any], kind: str
) -> None:
    store = package_store_from_settings(settings(tmp_path, storage, options))
    assert store.kind == kind
    assert "a2V5a2V5" not in repr(store)
