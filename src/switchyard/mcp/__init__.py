"""The MCP server: an end user's connections as MCP tools, over streamable HTTP (``/mcp``) and stdio."""
