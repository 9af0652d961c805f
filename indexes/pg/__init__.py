"""The PostgreSQL + pgvector index store (postgresql:// URLs); psycopg is imported in connection.py only."""
