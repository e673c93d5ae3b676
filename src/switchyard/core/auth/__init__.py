"""Authentication steps as pure functions: PKCE, state, OAuth 2.0 request building and response parsing."""
