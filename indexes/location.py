"""Where an index lives: a folder (the default store) or a PostgreSQL database named by a libpq URL.

`postgresql://USER@HOST:PORT/DB` (or the Unix-socket form
`postgresql://postgres:@/postgres?host=/path/to/socket/dir`) is accepted wherever an index folder
is. Several indexes share one database, told apart by the `index` query parameter
(`...?index=manuals`; default `default`), which smallrag strips before connecting. `exact=1`
makes dense search exact even where the index has an HNSW graph (to measure HNSW's recall).

A password in the URL is refused: URLs end up in shell history, process lists and logs. libpq
reads it from PGPASSWORD or ~/.pgpass instead."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from smallrag.core.errors import SmallragError

SCHEMES = ("postgresql", "postgres")
INDEX_PARAM = "index"
EXACT_PARAM = "exact"
DEFAULT_NAME = "default"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def is_database_url(value: object) -> bool:
    """Whether `value` names a PostgreSQL index rather than a folder."""
    return isinstance(value, str) and value.split("://", 1)[0].lower() in SCHEMES and "://" in value


@dataclass(frozen=True)
class DatabaseLocation:
    """A parsed index URL: `conninfo` is what libpq gets (our parameters stripped), `name` the
    index inside the database, `shown` the URL as messages print it."""

    conninfo: str
    name: str
    shown: str
    exact: bool = False

    @property
    def schema(self) -> str:
        return f"smallrag_{self.name}"

    def __str__(self) -> str:
        return self.shown


def parse_database_url(url: str) -> DatabaseLocation:
    """Split an index URL into the libpq URL and smallrag's own parameters, with a one-line error
    naming the fix for a bad name, an unknown flag value or a password in the URL."""
    if not is_database_url(url):
        raise SmallragError(f"{url!r} is not a PostgreSQL URL; write postgresql://USER@HOST:PORT/DB[?index=NAME]")
    parts = urlsplit(url)
    if parts.password:
        shown = url.replace(f":{parts.password}@", ":***@", 1)
        raise SmallragError(f"{shown}: a password in the URL is not accepted (it would end up in shell history "
                            "and logs); put it in PGPASSWORD or ~/.pgpass and drop it from the URL")
    params = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in params if k in (INDEX_PARAM, EXACT_PARAM)}
    name = ours.get(INDEX_PARAM, DEFAULT_NAME)
    if not _NAME.fullmatch(name):
        raise SmallragError(f"index name {name!r} in {url!r} is not allowed; use 1-40 lower-case letters, digits "
                            "or _, starting with a letter, e.g. ?index=manuals")
    exact_text = ours.get(EXACT_PARAM, "0").strip().lower()
    if exact_text not in _TRUE + _FALSE:
        raise SmallragError(f"exact={ours[EXACT_PARAM]!r} in {url!r} is not a yes/no value; use exact=1 or exact=0")
    rest = [(k, v) for k, v in params if k not in (INDEX_PARAM, EXACT_PARAM)]
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest, safe="/:"), parts.fragment))
    shown = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest + [(INDEX_PARAM, name)], safe="/:"), ""))
    return DatabaseLocation(conninfo, name, shown, exact_text in _TRUE)


def describe_location(value: str | Path) -> str:
    """How messages name an index: the folder path, or the URL (never with a password)."""
    return parse_database_url(value).shown if is_database_url(value) else str(value)
