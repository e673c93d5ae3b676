"""The few HTML pages the OAuth redirect flow shows in the end user's browser.

No third-party assets; every value is escaped. The console (a later release) brings the full connect UI.
"""

from __future__ import annotations

import html
import json
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi.responses import HTMLResponse, RedirectResponse

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1b1b1b}}
h1{{font-size:1.4rem}} .code{{color:#555;font-family:monospace}}</style></head>
<body><main><h1>{title}</h1><p>{message}</p>{details}</main>{script}</body></html>"""


def page(
    title: str, message: str, *, status: int = 200, code: str | None = None, script: str = ""
) -> HTMLResponse:
    details = f'<p class="code">Error code: {html.escape(code)}</p>' if code else ""
    body = _PAGE.format(
        title=html.escape(title), message=html.escape(message), details=details, script=script
    )
    return HTMLResponse(
        body, status_code=status, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )


def popup_result(
    payload: dict[str, str], target_origin: str, *, title: str, message: str, status: int = 200
) -> HTMLResponse:
    """Hand the outcome to the window that opened the popup, then close."""
    data = json.dumps({"type": "switchyard:connect", **payload}).replace("</", "<\\/")
    origin = json.dumps(target_origin).replace("</", "<\\/")
    script = (
        "<script>(function(){var d="
        + data
        + ";if(window.opener){window.opener.postMessage(d,"
        + origin
        + ");window.close();}})();</script>"
    )
    return page(title, message, status=status, code=payload.get("error"), script=script)


def with_params(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` added to its query (the ones it has are kept)."""
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit(parts._replace(query=query))


def redirect_with(url: str, params: dict[str, str], *, status: int = 302) -> RedirectResponse:
    return RedirectResponse(
        with_params(url, params), status_code=status, headers={"Cache-Control": "no-store"}
    )


def origin_of(url: str | None) -> str:
    if not url:
        return "*"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
