"""Connector definitions: the schema (``schema.py``), templates in URLs (``templates.py``) and loading YAML or
JSON with errors that name the field and the line (``loader.py``)."""
