"""Python hook actions of the built-in connectors, one module per connector (``-`` becomes ``_``).

A hook is ``async def name(ctx, input)``; ``ctx.http.request(...)`` reaches the connection's provider through
the proxy, which adds the credentials, so a hook never holds a token.
"""
