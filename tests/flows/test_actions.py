"""Typed actions against the provider peer: templates, selection, pagination, schemas, errors, fallbacks."""

from __future__ import annotations

import httpx2

from tests.api.test_problem_json import assert_problem
from tests.conftest import TenantFixture
from tests.flows.test_proxy import connect_keyed
from tests.peers.provider_api import ProviderApiPeer

ACTIONS = """
pagination: {type: cursor, cursorParam: cursor, cursorPath: next_cursor, itemsPath: items, limitParam: limit}
actions:
  - name: whoami
    description: The account the key belongs to.
    request: {path: /user}
    outputSchema: {type: object, required: [id], properties: {id: {type: string}}}
  - name: user_id
    description: Only the account id.
    request: {path: /user}
    response: {select: id}
    outputSchema: {type: string}
  - name: list_items
    description: Every item, page by page.
    inputSchema:
      type: object
      properties: {limit: {type: integer, minimum: 1, maximum: 100, description: Page size}}
      additionalProperties: false
    request: {path: /items, query: {limit: "{{limit}}"}}
    paginate: true
  - name: send
    description: Echo a message with a label.
    inputSchema:
      type: object
      required: [text, count]
      properties:
        text: {type: string, description: The text}
        count: {type: integer, description: How many}
        label: {type: string, description: An optional label}
      additionalProperties: false
    request:
      method: POST
      path: /echo
      query: {tag: "{{label}}"}
      body: {message: {text: "{{text}}", n: "{{count}}", label: "{{label}}"}}
    response: {select: body.json}
  - name: page_html
    description: A page that is not JSON.
    request: {path: /not-json}
  - name: missing
    description: A 404.
    request: {path: /status/404}
  - name: broken
    description: Fails with 503, then falls back.
    request: {path: /status/503}
    fallback: user_id
  - name: wrong_shape
    description: The answer does not match the output schema.
    request: {path: /user}
    outputSchema: {type: array}
"""


async def _run(
    api: httpx2.AsyncClient, tenant: TenantFixture, cid: str, name: str, **payload: object
) -> httpx2.Response:
    return await api.post(
        f"/api/v1/connections/{cid}/actions/{name}", json={"input": payload}, headers=tenant.headers
    )


async def test_actions_are_listed_with_their_schemas(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    keyed_api: ProviderApiPeer,
) -> None:
    await connect_keyed(api, tenant, keyed_api.url, extra=ACTIONS)
    listed = await api.get("/api/v1/connectors/keyed/actions", headers=tenant.headers)
    assert listed.status_code == 200, listed.text
    by_name = {a["name"]: a for a in listed.json()["actions"]}
    assert by_name["send"]["input_schema"]["required"] == ["text", "count"]
    assert by_name["send"]["kind"] == "request" and by_name["send"]["idempotent"] is False
    assert by_name["list_items"]["paginated"] is True


async def test_declarative_actions_run_against_the_provider(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    keyed_api: ProviderApiPeer,
) -> None:
    cid = await connect_keyed(api, tenant, keyed_api.url, extra=ACTIONS)
    whoami = await _run(api, tenant, cid, "whoami")
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["output"]["id"] and whoami.json()["provider"] == "keyed"
    assert (await _run(api, tenant, cid, "user_id")).json()["output"] == whoami.json()["output"]["id"]
    sent = await _run(api, tenant, cid, "send", text="hi", count=2)
    assert sent.json()["output"] == {"message": {"text": "hi", "n": 2}}
    assert keyed_api.request_log[-1].query == []  # the absent label left the query parameter out
    labelled = await _run(api, tenant, cid, "send", text="hi", count=2, label="x")
    assert labelled.json()["output"]["message"]["label"] == "x"
    assert keyed_api.request_log[-1].query == [("tag", "x")]
    items = await _run(api, tenant, cid, "list_items", limit=10)
    assert [item["id"] for item in items.json()["output"]] == list(range(1, 26))
    assert items.json()["attempts"] == 3


async def test_bad_input_names_the_fields_and_sends_nothing(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    keyed_api: ProviderApiPeer,
) -> None:
    cid = await connect_keyed(api, tenant, keyed_api.url, extra=ACTIONS)
    before = len(keyed_api.request_log)
    bad = await _run(api, tenant, cid, "send", count="two", surprise=1)
    body = assert_problem(bad, 422, "action.invalid_input")
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"text", "count", "surprise"}
    assert "two" not in bad.text
    assert len(keyed_api.request_log) == before
    unknown = await _run(api, tenant, cid, "nope")
    assert_problem(unknown, 404, "action.not_found")


async def test_provider_failures_have_stable_codes(
    api: httpx2.AsyncClient,
    tenant: TenantFixture,
    keyed_api: ProviderApiPeer,
) -> None:
    cid = await connect_keyed(api, tenant, keyed_api.url, extra=ACTIONS)
    html = await _run(api, tenant, cid, "page_html")
    assert assert_problem(html, 502, "provider.bad_response")["upstream_status"] == 200
    assert_problem(await _run(api, tenant, cid, "missing"), 404, "provider.not_found")
    shape = await _run(api, tenant, cid, "wrong_shape")
    assert_problem(shape, 502, "provider.bad_response")
    fell_back = await _run(api, tenant, cid, "broken")
    assert fell_back.status_code == 200, fell_back.text
    assert fell_back.json()["action"] == "user_id" and fell_back.json()["fallback_from"] == "broken"
