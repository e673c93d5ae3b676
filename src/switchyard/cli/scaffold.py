"""``switchyard connectors create``: the files of a new connector package, ready to test, package and upload.

The scaffold is a valid definition (``manifest.json``: API key auth, a proxy base URL, one hook action
``hello`` with input and output JSON Schemas), its hook module (``connector.py``), a test that runs the hook
with a small fake ``ctx`` under plain pytest (no Switchyard server), and a README.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from switchyard.core.errors import InvalidInput
from switchyard.core.manifest.schema import CONNECTOR_ID

HOOK_MODULE = "connector.py"


def manifest(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": "0.1.0",
        "displayName": display_name(name),
        "description": f"The {display_name(name)} connector.",
        "authenticationMethods": [
            {
                "type": "api_key",
                "credentials": {"api_key": {"title": "API key", "secret": True}},
                "inject": {"in": "header", "name": "Authorization", "format": "Bearer {{api_key}}"},
            }
        ],
        "proxy": {"baseUrl": "https://api.example.com"},
        "actions": [
            {
                "name": "hello",
                "description": "Greets someone and tells whether the provider's API answered.",
                "hook": "hello",
                "inputSchema": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "description": "Whom to greet."}},
                    "additionalProperties": False,
                },
                "outputSchema": {
                    "type": "object",
                    "properties": {
                        "greeting": {"type": "string"},
                        "provider_status": {"type": "integer"},
                    },
                    "required": ["greeting", "provider_status"],
                },
                "examples": [{"name": "Ada"}],
            }
        ],
    }


CONNECTOR_PY = '''\
"""Hooks of the {name} connector: one `async def name(ctx, input)` per hook action in manifest.json.

`ctx.http.request(method, path, query=..., json_body=..., headers=...)` calls the provider through
Switchyard's proxy, which adds the connection's credentials: the hook never sees a token. The answer has
`.status`, `.headers`, `.body`, `.text` and `.json()`. `ctx.config` is the connection's non-secret config.
The hook returns JSON-serialisable data matching the action's outputSchema.
"""

from typing import Any


async def hello(ctx: Any, input: dict[str, Any]) -> dict[str, Any]:
    """Greets `input["name"]` (default: world) and reports the status of a GET of the API's root."""
    name = input.get("name") or "world"
    answer = await ctx.http.request("GET", "/")
    return {{"greeting": f"Hello, {{name}}!", "provider_status": answer.status}}
'''

TEST_PY = '''\
"""Runs the hooks of connector.py with a fake ctx, under plain pytest: no Switchyard server, no network.

    python -m pytest tests
"""

import asyncio
import importlib.util
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def load_connector() -> Any:
    spec = importlib.util.spec_from_file_location("connector", ROOT / "connector.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeAnswer:
    """What ctx.http.request returns: the provider's answer."""

    def __init__(self, status: int = 200, body: Any = None) -> None:
        self.status = status
        self.headers: list[tuple[str, str]] = [("Content-Type", "application/json")]
        self.body = json.dumps(body if body is not None else {{}}).encode()

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class FakeHttp:
    """Records every call and answers each with the same canned answer."""

    def __init__(self, answer: FakeAnswer) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str]] = []

    async def request(self, method: str, path: str, **options: Any) -> FakeAnswer:
        self.calls.append((method, path))
        return self.answer


class FakeCtx:
    def __init__(self, answer: FakeAnswer | None = None, config: dict[str, Any] | None = None) -> None:
        self.http = FakeHttp(answer or FakeAnswer())
        self.config = config or {{}}


def run(hook_name: str, ctx: FakeCtx, payload: dict[str, Any]) -> Any:
    return asyncio.run(getattr(load_connector(), hook_name)(ctx, payload))


def test_hello_greets_by_name() -> None:
    ctx = FakeCtx(FakeAnswer(status=200))
    result = run("hello", ctx, {{"name": "Ada"}})
    assert result == {{"greeting": "Hello, Ada!", "provider_status": 200}}
    assert ctx.http.calls == [("GET", "/")]


def test_hello_defaults_to_world_and_reports_the_status() -> None:
    result = run("hello", FakeCtx(FakeAnswer(status=503)), {{}})
    assert result == {{"greeting": "Hello, world!", "provider_status": 503}}


def test_every_hook_action_has_its_function_and_output_fields() -> None:
    manifest = json.loads((ROOT / "manifest.json").read_text())
    module = load_connector()
    for action in manifest["actions"]:
        if "hook" not in action:
            continue
        assert callable(getattr(module, action["hook"], None)), action["hook"]
        examples = action.get("examples") or [{{}}]
        for example in examples:
            output = run(action["hook"], FakeCtx(), example)
            for field in action.get("outputSchema", {{}}).get("required", []):
                assert field in output, (action["name"], field)
'''

README_MD = """\
# {display}

A Switchyard connector package: `manifest.json` (the definition), `connector.py` (its Python hooks, run
in Switchyard's sandbox) and `tests/` (not packaged).

## Develop

Edit `manifest.json` (see `switchyard connectors schema`) and the hooks in `connector.py`, then run the
tests, which call the hooks with a fake `ctx` (no server needed):

    python -m pytest tests

## Package and upload

    switchyard connectors package                       # writes {name}-v0.1.0.zip
    switchyard login --api-url https://switchyard.example.com
    switchyard connectors upload {name}-v0.1.0.zip

Raise `version` in `manifest.json` for every new upload; `switchyard connectors versions {name}` lists
the uploaded versions and `switchyard connectors rollback {name} VERSION` goes back to one.
"""


def display_name(name: str) -> str:
    return " ".join(part.capitalize() for part in re.split(r"[-_]+", name) if part)


def check_name(name: str) -> str:
    if not re.fullmatch(CONNECTOR_ID, name):
        raise InvalidInput(
            f"invalid connector name {name!r}",
            code="connector.invalid_name",
            remediation="Use 1-63 lowercase letters, digits and '-', starting with a letter or digit.",
        )
    return name


def files(name: str) -> dict[str, str]:
    """The scaffold's files, by relative path."""
    return {
        "manifest.json": json.dumps(manifest(name), indent=2) + "\n",
        HOOK_MODULE: CONNECTOR_PY.format(name=name),
        "tests/test_connector.py": TEST_PY.format(),
        "README.md": README_MD.format(name=name, display=display_name(name)),
    }


def create(name: str, directory: Path) -> list[Path]:
    """Write the scaffold into ``directory`` (absent or empty); returns the files written."""
    check_name(name)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InvalidInput(
            f"{directory} already exists and is not an empty directory",
            code="cli.directory_not_empty",
            remediation="Choose another --dir, or remove that directory first.",
        )
    written: list[Path] = []
    for relative, text in files(name).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
