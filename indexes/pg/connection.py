"""Connecting to PostgreSQL with one-line errors (psycopg is imported here only).

The password comes from PGPASSWORD or ~/.pgpass (libpq reads both); the URL never carries one
(smallrag.indexes.location refuses it), and no message prints more than the URL."""

from __future__ import annotations

import logging
from typing import Any

from smallrag.core.errors import SmallragError
from smallrag.indexes.location import DatabaseLocation

logger = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 10
INSTALL = "pip install 'smallrag[postgres]' (psycopg 3)"


class DatabaseError(SmallragError):
    """The server is unreachable, refuses us, or lacks what a smallrag index needs."""


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise SmallragError(f"PostgreSQL indexes need psycopg; {INSTALL}") from None
    return psycopg


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def connect(location: DatabaseLocation, *, create_extension: bool = False) -> Any:
    """An open psycopg connection (autocommit off) with pgvector checked: a reader needs the
    extension installed; a build (`create_extension`) installs it when it may."""
    psycopg = _psycopg()
    try:
        conn = psycopg.connect(location.conninfo, connect_timeout=CONNECT_TIMEOUT_S, application_name="smallrag")
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot connect to PostgreSQL at {location.shown} ({first_line(exc)}); check that "
                            "the server runs, the URL, and PGPASSWORD or ~/.pgpass") from None
    try:
        _check_vector(conn, location, create_extension)
    except BaseException:
        conn.close()
        raise
    return conn


def _check_vector(conn: Any, location: DatabaseLocation, create: bool) -> None:
    psycopg = _psycopg()
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    if row is None and create:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.commit()
            return
        except psycopg.Error as exc:
            conn.rollback()
            raise DatabaseError(f"the pgvector extension is not installed in {location.shown} and could not be "
                                f"created ({first_line(exc)}); install pgvector on the server and run "
                                "CREATE EXTENSION vector as a superuser") from None
    conn.rollback()  # end the read transaction the check opened
    if row is None:
        raise DatabaseError(f"the pgvector extension is not installed in {location.shown}; install pgvector on "
                            "the server and run CREATE EXTENSION vector as a superuser")


def database_errors():
    """The exception class to catch around statements (psycopg.Error)."""
    return _psycopg().Error
