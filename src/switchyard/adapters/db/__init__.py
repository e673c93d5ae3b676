"""SQL storage (SQLAlchemy 2 async Core) for SQLite and PostgreSQL."""
