"""Connector package zips: seed 000's manifest validates; every bad archive is refused with its own code."""

from __future__ import annotations

import io
import itertools
import json
import random
import struct
import warnings
import zipfile
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchyard.core.errors import InvalidInput, PayloadTooLarge
from switchyard.core.packages import (
    PackageLimits,
    build_package,
    inspect_package,
    is_newer,
    object_key,
    package_filename,
    semver_key,
)
from switchyard.settings import Settings
from tests.seed_packages import seed_000_manifest

LIMITS = PackageLimits()
CODE = b"async def describe(ctx, input):\n    return {'ok': True}\n"
SECRET = "SECRET-CONTENT-7f3a"


def manifest_bytes(**more: Any) -> bytes:
    return json.dumps(seed_000_manifest(**more)).encode()


def good_files(**more: bytes) -> dict[str, bytes]:
    return {"manifest.json": manifest_bytes(), "connector.py": CODE, **more}


def raw_zip(*members: tuple[zipfile.ZipInfo | str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip written member by member, with whatever names and modes the test asks for."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names, which one test wants
        with zipfile.ZipFile(buffer, "w", compression=method) as archive:
            for info, content in members:
                archive.writestr(info, content)
    return buffer.getvalue()


def with_manifest(*members: tuple[zipfile.ZipInfo | str, bytes]) -> bytes:
    return raw_zip(("manifest.json", manifest_bytes()), ("connector.py", CODE), *members)


def member(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def refused(data: bytes, limits: PackageLimits = LIMITS) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        inspect_package(data, limits)
    return caught.value


def test_seed_000_manifest_with_hook_code_validates() -> None:
    data = build_package(good_files(**{"README.md": b"# My connector\n", "icon.svg": b"<svg/>"}))
    inspected = inspect_package(data, LIMITS)
    definition = inspected.definition
    assert (definition.name, definition.version, definition.display_name) == (
        "my-custom-connector",
        "1.0.0",
        "My Custom Connector",
    )
    assert definition.auth_types() == ["oauth2"]  # seed 000's authentication folded into the methods
    assert inspected.hooks == ("describe",)
    assert inspected.has_code and inspected.module == "connector"
    assert inspected.files == ("README.md", "connector.py", "icon.svg", "manifest.json")
    assert inspected.readme == "# My connector\n"
    assert json.loads(inspected.manifest_source) == seed_000_manifest()
    assert inspected.size == len(data)
    assert len(inspected.sha256) == 64


def test_a_code_package_and_vendored_modules_are_accepted() -> None:
    files = {
        "manifest.json": manifest_bytes(),
        "connector/__init__.py": CODE,
        "connector/helpers.py": b"X = 1\n",
        "vendored/tinylib/__init__.py": b"def f():\n    return 2\n",
    }
    inspected = inspect_package(build_package(files), LIMITS)
    assert inspected.has_code and inspected.readme is None
    assert "vendored/tinylib/__init__.py" in inspected.files


def test_a_manifest_without_hooks_needs_no_code() -> None:
    manifest = seed_000_manifest(actions=[])
    inspected = inspect_package(build_package({"manifest.json": json.dumps(manifest).encode()}), LIMITS)
    assert not inspected.has_code and inspected.hooks == ()


def test_directory_entries_are_skipped() -> None:
    data = with_manifest((member("docs/", 0o040755), b""), ("docs/guide.md", b"guide"))
    assert inspect_package(data, LIMITS).files == ("connector.py", "docs/guide.md", "manifest.json")


def test_a_utf8_bom_in_the_manifest_is_accepted() -> None:
    data = build_package({"manifest.json": b"\xef\xbb\xbf" + manifest_bytes(), "connector.py": CODE})
    assert inspect_package(data, LIMITS).definition.name == "my-custom-connector"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "package.empty"),
        (b"name,version\nx,1.0.0\n", "package.not_zip"),
        (bytes(random.Random(1).randbytes(4096)), "package.not_zip"),
        (build_package(good_files())[:300], "package.not_zip"),
    ],
    ids=["empty", "text", "random", "truncated"],
)
def test_what_is_not_a_zip(data: bytes, code: str) -> None:
    assert refused(data).code == code


@pytest.mark.parametrize(
    "name",
    [
        "../evil",
        "a/../../evil",
        "/etc/cron.d/evil",
        "..\\evil",
        "a\\b.py",
        "C:/evil",
        "c:evil",
        "a//b",
        "./a",
        "a\tb",
    ],
)
def test_zip_slip_paths_are_refused(name: str) -> None:
    error = refused(with_manifest((name, b"x")))
    assert error.code == "package.unsafe_path"
    assert error.status == 422


def test_a_nul_in_a_name_is_refused() -> None:
    """zipfile cuts names at NUL; the name as stored is the one checked."""
    error = refused(with_manifest(("aXb", b"x")).replace(b"aXb", b"a\x00b"))
    assert error.code == "package.unsafe_path"
    assert error.status == 422


@pytest.mark.parametrize(
    "names",
    [("util.py", "util.py"), ("Util.py", "util.py"), ("lib", "lib/x.py"), ("lib/", "LIB/")],
    ids=["same", "case", "file-and-directory", "directory-twice"],
)
def test_duplicate_and_colliding_names_are_refused(names: tuple[str, str]) -> None:
    members = [(member(n, 0o040755) if n.endswith("/") else n, b"x") for n in names]
    assert refused(with_manifest(*members)).code == "package.unsafe_path"


def test_a_symlink_is_refused() -> None:
    error = refused(with_manifest((member("passwd", 0o120777), b"/etc/passwd")))
    assert error.code == "package.symlink"
    assert "/etc/passwd" not in error.detail


@pytest.mark.parametrize("mode", [0o010644, 0o020644, 0o060644, 0o140644, 0o040755])
def test_devices_fifos_sockets_and_file_named_directories_are_refused(mode: int) -> None:
    assert refused(with_manifest((member("thing", mode), b""))).code == "package.special_file"


def test_a_zip_bomb_is_refused_before_inflating() -> None:
    bomb = b"\0" * (20 * 1024 * 1024)
    data = with_manifest(("data.bin", bomb))
    assert len(data) < 100_000
    error = refused(data)
    assert error.code == "package.zip_bomb"
    assert error.extra["max_ratio"] == LIMITS.max_ratio


def test_a_header_that_understates_the_size_is_caught_while_reading() -> None:
    content = random.Random(2).randbytes(100_000)
    data = bytearray(with_manifest(("blob.bin", content)))
    lie = struct.pack("<I", 1000)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (local := data.find(signature, start)) != -1:
            name_len_at = local + (26 if signature == b"PK\x03\x04" else 28)
            name_len = struct.unpack("<H", data[name_len_at : name_len_at + 2])[0]
            name_at = local + (30 if signature == b"PK\x03\x04" else 46)
            if bytes(data[name_at : name_at + name_len]) == b"blob.bin":
                data[local + offset : local + offset + 4] = lie
            start = local + 4
    assert refused(bytes(data)).code == "package.corrupt"


def test_an_encrypted_member_is_refused() -> None:
    data = bytearray(with_manifest(("secret.py", b"X = 1\n")))
    central = data.rfind(b"PK\x01\x02")  # the last member's central header: secret.py
    data[central + 8] |= 0x01
    assert refused(bytes(data)).code == "package.encrypted"


def test_too_many_files_is_refused() -> None:
    files = good_files(**{f"m{i}.py": b"" for i in range(5)})
    error = refused(build_package(files), PackageLimits(max_files=4))
    assert error.code == "package.too_many_files"


def test_an_archive_over_the_size_limit_is_413() -> None:
    data = build_package(good_files(**{"blob.bin": random.Random(3).randbytes(4096)}))
    with pytest.raises(PayloadTooLarge) as caught:
        inspect_package(data, PackageLimits(max_bytes=2048))
    assert caught.value.code == "package.too_large"
    assert caught.value.status == 413


def test_files_that_unpack_over_the_limit_are_refused() -> None:
    files = good_files(**{f"blob{i}.bin": random.Random(i).randbytes(3000) for i in range(3)})
    error = refused(build_package(files), PackageLimits(max_unpacked_bytes=8000))
    assert (error.code, error.status) == ("package.too_large", 422)


@pytest.mark.parametrize(
    "name", ["_speedups.so", "lib/libfoo.so.1", "ext.PYD", "x.dylib", "x.dll", "setup.exe"]
)
def test_native_code_by_name_is_refused(name: str) -> None:
    assert refused(build_package(good_files(**{name: b"not really"}))).code == "package.native_code"


@pytest.mark.parametrize("magic", [b"\x7fELF", b"\xcf\xfa\xed\xfe"])
def test_native_code_by_content_is_refused(magic: bytes) -> None:
    data = build_package(good_files(**{"helper.py": magic + b"\x02\x01\x01" + bytes(100)}))
    assert refused(data).code == "package.native_code"


def test_other_compression_methods_are_refused() -> None:
    data = raw_zip(("manifest.json", manifest_bytes()), ("connector.py", CODE), method=zipfile.ZIP_BZIP2)
    assert refused(data).code == "package.unsupported_compression"


def test_a_missing_manifest_is_refused() -> None:
    assert refused(build_package({"connector.py": CODE})).code == "package.manifest_missing"


def test_a_manifest_inside_a_folder_gets_a_hint() -> None:
    error = refused(build_package({"my-connector/manifest.json": manifest_bytes()}))
    assert error.code == "package.manifest_missing"
    assert "my-connector/manifest.json" in (error.remediation or "")


@pytest.mark.parametrize(
    "manifest",
    [
        f'{{"name": "{SECRET}", '.encode(),
        f'["{SECRET}"]'.encode(),
        b'{"name": "a", "name": "b"}',
        b"\xff\xfe" + SECRET.encode(),
    ],
    ids=["not-json", "not-object", "duplicate-key", "not-utf8"],
)
def test_a_manifest_that_is_not_a_json_object_is_refused(manifest: bytes) -> None:
    error = refused(build_package({"manifest.json": manifest}))
    assert error.code == "package.manifest_invalid"
    assert error.extra["problems"]
    assert SECRET not in error.detail and SECRET not in json.dumps(error.extra)


def test_an_invalid_definition_keeps_the_loaders_problems() -> None:
    manifest = seed_000_manifest(version="one", actions=[{"name": "x", "description": "d"}])
    error = refused(build_package({"manifest.json": json.dumps(manifest).encode(), "connector.py": CODE}))
    assert error.code == "package.manifest_invalid"
    paths = {problem["path"] for problem in error.extra["problems"]}
    assert "version" in paths
    assert any(path.startswith("actions.0") for path in paths)


def test_hooks_without_code_are_refused() -> None:
    error = refused(build_package({"manifest.json": manifest_bytes()}))
    assert error.code == "package.code_missing"
    assert error.extra["hooks"] == ["describe"]


def test_a_module_and_a_package_of_the_same_name_are_ambiguous() -> None:
    data = build_package(good_files(**{"connector/__init__.py": CODE}))
    assert refused(data).code == "package.code_ambiguous"


def test_limits_come_from_settings() -> None:
    settings = Settings(
        package_max_bytes=2048, package_max_unpacked_bytes=4096, package_max_files=3, package_max_ratio=7
    )
    assert PackageLimits.from_settings(settings) == PackageLimits(2048, 4096, 3, 7)


# names and versions


def test_object_key_and_filename_follow_seed_000() -> None:
    assert package_filename("my-connector", "1.0.0") == "my-connector-v1.0.0.zip"
    assert object_key("ten_1", "my-connector", "1.0.0") == "ten_1/my-connector-v1.0.0.zip"


SPEC_ORDER = [  # semver.org, section 11, extended
    "0.0.1",
    "0.9.0",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "1.10.0",
    "2.0.0",
    "10.0.0",
]


def test_semver_precedence_follows_the_specification() -> None:
    shuffled = SPEC_ORDER[:]
    random.Random(4).shuffle(shuffled)
    assert sorted(shuffled, key=semver_key) == SPEC_ORDER
    for lower, higher in itertools.pairwise(SPEC_ORDER):
        assert is_newer(higher, lower) and not is_newer(lower, higher)


def test_build_metadata_does_not_count() -> None:
    assert semver_key("1.0.0+build.5") == semver_key("1.0.0")
    assert not is_newer("1.0.0+build.5", "1.0.0")


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0.0", "01.0.0", "", "1.0.0-"])
def test_a_version_that_is_not_semver_is_refused(version: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        semver_key(version)
    assert caught.value.code == "package.version_invalid"


numbers = st.integers(min_value=0, max_value=10**6)
identifiers = st.one_of(numbers.map(str), st.from_regex(r"[a-zA-Z-][0-9a-zA-Z-]{0,5}", fullmatch=True))
prereleases = st.lists(identifiers, min_size=1, max_size=3).map(".".join)


@given(st.tuples(numbers, numbers, numbers), st.tuples(numbers, numbers, numbers))
def test_release_order_is_numeric(a: tuple[int, int, int], b: tuple[int, int, int]) -> None:
    left, right = ".".join(map(str, a)), ".".join(map(str, b))
    assert is_newer(left, right) == (a > b)


@given(st.tuples(numbers, numbers, numbers), prereleases)
def test_a_prerelease_is_lower_than_its_release(core: tuple[int, int, int], prerelease: str) -> None:
    release = ".".join(map(str, core))
    assert is_newer(release, f"{release}-{prerelease}")
    assert not is_newer(f"{release}-{prerelease}", release)


@given(numbers, numbers)
def test_numeric_prerelease_identifiers_compare_numerically(a: int, b: int) -> None:
    assert is_newer(f"1.0.0-rc.{a}", f"1.0.0-rc.{b}") == (a > b)
    assert is_newer("1.0.0-rc.a", f"1.0.0-rc.{a}")  # alphanumeric ranks above numeric


# building


def test_build_package_is_deterministic() -> None:
    files = good_files(**{"README.md": b"# readme\n", "lib/a.py": b"A = 1\n"})
    reordered = dict(reversed(list(files.items())))
    first = build_package(files)
    assert build_package(reordered) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        infos = archive.infolist()
        assert [info.filename for info in infos] == sorted(files)
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {info.compress_type for info in infos} == {zipfile.ZIP_DEFLATED}
        assert all(archive.read(name) == content for name, content in files.items())
    assert build_package(files | {"README.md": b"# changed\n"}) != first
