"""The application API: one set of services that the HTTP API, the CLI, MCP and the console all call."""
