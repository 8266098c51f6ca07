"""The store: SQLAlchemy tables, the engine for SQLite or PostgreSQL, and migrations."""
