"""Client search: name, pinyin, initials, client id and phone-tail probes plus name substrings, ranked."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Connection, Row

from crm_adapter import scopes
from crm_adapter.pinyin import MAX_TERM_LEN, escape_like, pinyin_query, prefix_upper_bound
from crm_adapter.statements import Statements

logger = logging.getLogger(__name__)

#: Initials of a name are short; a longer latin query is only tried as full pinyin.
_MAX_INITIALS_QUERY = 8
#: Up to this many RMs in scope, substring search scans their clients instead of the term index.
_LIKE_SCAN_MAX_RMS = 2


class ClientSearch:
    """Key-column probes (name, pinyin, initials, client id, phone tail) and the name-substring lookup
    in ONE statement: a UNION ALL of index range scans, each with its own LIMIT.

    Order: exact matches, then prefix matches (by column priority, then that column's order), then
    substring matches (by client id). Each range scan follows its (column, client_id) index, so LIMIT
    stops early even for "zhang" among 100k clients; an exact match sorts first inside its prefix range.
    """

    def __init__(self, conn: Connection, sql: Statements, scope: scopes.ClientScope, limit: int) -> None:
        self._conn = conn
        self._sql = sql
        self._codes = sorted(scope.rm_codes)
        self._scoped = "all" if scope.all_clients else "one" if len(self._codes) == 1 else "many"
        self._limit = limit

    def run(self, query: str) -> list[Row[Any]]:
        pinyin = pinyin_query(query)
        digits = _digits(query)
        probes: list[tuple[str, str]] = []
        if pinyin:  # latin letters only: a Chinese-name range scan cannot match
            probes.append(("name_pinyin", pinyin))
            if len(pinyin) <= _MAX_INITIALS_QUERY:
                probes.append(("name_initials", pinyin))
        else:
            probes.append(("name", query))
        if _code_like(query) and any(ch.isdigit() for ch in query):  # client ids carry digits
            probes.append(("client_id", query.upper()))
        if digits is not None and len(digits) >= 4:
            probes.append(("phone_tail", digits[-4:]))

        columns = tuple(column for column, _ in probes)
        params = self._params()
        for i, (_column, value) in enumerate(probes):
            params[f"lo{i}"], params[f"hi{i}"] = value, prefix_upper_bound(value)
        # Substring matches fill the page after the probes; enough of them that clients already
        # found by a probe cannot crowd the others out.
        params["m"] = self._limit * (len(probes) + 1)
        lowered = query.lower()
        # Substring candidates come from the term index (every name substring up to MAX_TERM_LEN chars;
        # a longer query is looked up by its first MAX_TERM_LEN chars and checked with LIKE). An RM
        # owns a few hundred clients: scanning those (rm_code index) beats walking every "伟" client.
        params["pattern"] = f"%{escape_like(lowered)}%"
        if self._scoped != "all" and len(self._codes) <= _LIKE_SCAN_MAX_RMS:
            substring = "like"
        else:
            substring, params["term"] = "term", lowered[:MAX_TERM_LEN]
        stmt = self._sql.probes(columns, self._scoped, substring)
        rows = list(self._conn.execute(stmt, params))
        n_probes = len(columns)
        rows.sort(key=lambda r: (r.probe, r.probe_key or "", r.client_id))
        exact: dict[str, Row[Any]] = {}
        prefix: dict[str, Row[Any]] = {}
        partial: dict[str, Row[Any]] = {}
        for row in rows:
            if row.probe == n_probes:
                partial.setdefault(row.client_id, row)
                continue
            column, value = probes[row.probe]
            if column == "phone_tail":  # the tail matched; the full digits decide exact vs partial
                assert digits is not None
                if not (row.phone or "").endswith(digits):
                    continue
                is_exact = len(digits) > 4 and row.phone == digits
            else:
                is_exact = row.probe_key == value
            (exact if is_exact else prefix).setdefault(row.client_id, row)
        found = list(exact.values()) + [row for key, row in prefix.items() if key not in exact]
        seen = {row.client_id for row in found}
        found += [row for key, row in partial.items() if key not in seen]
        return found[: self._limit]

    def _params(self, **params: Any) -> dict[str, Any]:
        params["n"] = self._limit
        if self._scoped == "one":
            params["code"] = self._codes[0]
        elif self._scoped == "many":
            params["codes"] = self._codes
        return params


def _code_like(query: str) -> bool:
    return len(query) <= 32 and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in query)


def _digits(query: str) -> str | None:
    compact = query.replace(" ", "").replace("-", "").lstrip("+")
    return compact if compact.isdigit() and compact.isascii() else None


__all__ = ["ClientSearch"]
