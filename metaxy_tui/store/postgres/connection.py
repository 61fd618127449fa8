"""Connection strings, connecting, and the driver's failures as one-line errors.

A store is named by a libpq connection string (`postgresql://user:pass@host:port/db?...`);
what users see of it (`store.path`, messages) has the password masked. Every failure to
connect becomes a StoreError that says what is wrong in one line: a malformed string, a server
that does not answer, a database that does not exist, a refused login.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

from ...errors import StoreError

if TYPE_CHECKING:
    import psycopg

    # a connection as connect() makes it (rows as tuples)
    PgConnection: TypeAlias = psycopg.Connection[tuple[Any, ...]]

SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT_S = 10
INSTALL_HINT = 'install the PostgreSQL extra: pip install "metaxy-tui[postgresql]"'


def is_postgres_url(text: object) -> bool:
    return isinstance(text, str) and text.strip().lower().startswith(SCHEMES)


def mask(url: str) -> str:
    """The connection string with its password replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)
    if parts.password is None:
        return re.sub(r"password=[^&\s]*", "password=***", url)
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    masked = urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
    return re.sub(r"password=[^&\s]*", "password=***", masked)


def psycopg_module() -> ModuleType:
    """psycopg, imported on use (an optional dependency), or a StoreError saying how to install it."""
    try:
        import psycopg
    except ImportError:
        raise StoreError(f"a PostgreSQL store needs psycopg 3: {INSTALL_HINT}") from None
    return psycopg


def conninfo(url: str) -> dict[str, Any]:
    """The connection string's parameters; a StoreError when libpq cannot parse it."""
    psycopg = psycopg_module()
    if not is_postgres_url(url):
        raise StoreError(f"{mask(url)} is not a PostgreSQL connection string (postgresql://user@host/database)")
    try:
        info: dict[str, Any] = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error as e:
        raise StoreError(f"invalid PostgreSQL connection string {mask(url)}: {_first_line(e)}") from None
    port = str(info.get("port") or "")
    if port and not all(p.strip().isdigit() for p in port.split(",")):
        raise StoreError(f"invalid PostgreSQL connection string {mask(url)}: the port {port!r} is not a number")
    return info


def describe_target(url: str) -> str:
    """`database "x" on host` for messages."""
    try:
        info = conninfo(url)
    except StoreError:
        return mask(url)
    host = info.get("host") or "localhost"
    port = f":{info['port']}" if info.get("port") else ""
    return f'database "{info.get("dbname") or info.get("user") or "?"}" on {host}{port}'


def connect(url: str, *, autocommit: bool = False, application: str = "metaxy-tui") -> PgConnection:
    """A psycopg connection, or a StoreError naming what went wrong."""
    psycopg = psycopg_module()
    info = conninfo(url)
    kwargs: dict[str, Any] = {"autocommit": autocommit}
    if "connect_timeout" not in info:
        kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in info:
        kwargs["application_name"] = application
    try:
        conn: PgConnection = psycopg.connect(url, **kwargs)
        return conn
    except psycopg.OperationalError as e:
        raise StoreError(explain_connect_error(url, e)) from None
    except psycopg.Error as e:
        raise StoreError(f"cannot open {mask(url)}: {_first_line(e)}") from None


def explain_connect_error(url: str, e: Exception) -> str:
    text = str(e)
    target = describe_target(url)
    low = text.lower()
    db = re.search(r'database "([^"]+)" does not exist', text)
    if db:
        return f'{target}: the database "{db.group(1)}" does not exist (create it first, e.g. createdb {db.group(1)})'
    if "password authentication failed" in low or "authentication failed" in low:
        return f"{target}: the server refused the login ({_first_line(e)})"
    if "role" in low and "does not exist" in low:
        return f"{target}: {_first_line(e)}"
    if any(
        s in low
        for s in (
            "connection refused",
            "no such file or directory",
            "could not connect",
            "timeout expired",
            "could not translate host name",
            "name or service not known",
            "connection failed",
            "server closed the connection",
        )
    ):
        return f"{target}: cannot reach the PostgreSQL server (is it running, and is the address right?)"
    return f"{target}: cannot connect ({_first_line(e)})"


def _first_line(e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    # libpq puts the useful part last ("connection to server ... failed: <why>")
    text = lines[-1] if lines else type(e).__name__
    return text.rstrip(".")
