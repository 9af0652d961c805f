"""Indexes: a folder of plain files plus manifest.json (the default), or a PostgreSQL database with pgvector (indexes.pg)."""
