"""The suppression list: salted hashes of the ids of erased people, applied by ingestion.

An erased person's ids are never kept in clear. Each id is stored as an HMAC-SHA256 of
`<kind>:<id>` keyed by this installation's salt (`$OPTOUT_PRIVACY_DIR/salt`, 32 random bytes,
created on first use, mode 0600), so the list can travel with backups without naming
anyone, and an id can only be checked against it by someone holding the salt. Ingestion
hashes the ids of each day it reads and leaves out the records of suppressed people
before anything is counted or written, so a re-delivered export never brings them back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from assets.atomic_files import make_folder, replace_all, write_temp_beside
from assets.privacy.matching import record_values

SALT_FILE = "salt"
LIST_FILE = "suppression_list.jsonl"
# the id columns of the raw tables: every table names its user; users also their external id
ID_KINDS = ("user_id", "external_id")


class SaltMissingError(ValueError):
    """A suppression list without the salt its hashes were made with: it would match nobody."""

    def __init__(self, privacy_dir: Path) -> None:
        super().__init__(
            f"{privacy_dir / LIST_FILE} exists but its salt {privacy_dir / SALT_FILE} is missing: without "
            "it the erased people's records would be read again. Restore the salt from the backup the "
            "list came from (docs/privacy.md, the suppression list)"
        )


def load_salt(privacy_dir: Path, create: bool = False) -> bytes | None:
    """This installation's salt; made (once, atomically) when `create`, else None if there is none.

    Never made anew beside a suppression list: a new salt would silently unsuppress everyone
    on it (SaltMissingError instead)."""
    path = privacy_dir / SALT_FILE
    if path.exists():
        return path.read_bytes()
    if (privacy_dir / LIST_FILE).exists():
        raise SaltMissingError(privacy_dir)
    if not create:
        return None
    make_folder(privacy_dir)
    temp = write_temp_beside(path, secrets.token_bytes(32))
    try:
        os.link(temp, path)  # never replaces a salt another process made meanwhile
    except FileExistsError:
        pass
    finally:
        temp.unlink(missing_ok=True)
    return path.read_bytes()


def id_hash(salt: bytes, kind: str, value: str) -> str:
    return hmac.new(salt, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SuppressionList:
    salt: bytes
    hashes: frozenset[str]

    @classmethod
    def load(cls, privacy_dir: Path) -> SuppressionList | None:
        """The list of this installation, or None when nobody was ever erased (SaltMissingError
        when the list is there but its salt is not)."""
        path = privacy_dir / LIST_FILE
        salt = load_salt(privacy_dir)
        if salt is None or not path.exists():
            return None
        entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return cls(salt, frozenset(entry["hash"] for entry in entries)) if entries else None

    def hash_of(self, kind: str, value: str) -> str:
        return id_hash(self.salt, kind, value)

    def holds(self, kind: str, value: str | None) -> bool:
        return value is not None and self.hash_of(kind, value) in self.hashes

    def suppressed_values(self, kind: str, values: Iterable[str | None]) -> list[str]:
        """Those of `values` (each hashed once) that belong to a suppressed person."""
        return [v for v in {v for v in values if v is not None} if self.holds(kind, v)]

    def row_is_suppressed(self, frame: pl.DataFrame) -> pl.Series:
        """Per row of a typed table: does its user_id (or, for users, external_id) belong to an erased person?"""
        mask = pl.Series([False] * frame.height, dtype=pl.Boolean)
        for kind in ID_KINDS:
            if kind in frame.columns:
                suppressed = self.suppressed_values(kind, frame[kind].unique().to_list())
                if suppressed:
                    mask = mask | frame[kind].is_in(suppressed).fill_null(False)
        return mask

    def raw_record_is_suppressed(self, raw_records: pl.Series) -> pl.Series:
        """Per raw record (the quarantine's text): does any of its values belong to an erased person?"""

        def suppressed(raw: str | None) -> bool:
            values = record_values(raw)
            return any(self.holds(kind, value) for value in values for kind in ID_KINDS)

        return pl.Series([suppressed(raw) for raw in raw_records.to_list()], dtype=pl.Boolean)


def add_to_list(privacy_dir: Path, entries: Iterable[tuple[str, str]], request_id: str) -> int:
    """Append (kind, hash) entries not yet on the list; the file is replaced whole. Returns how many were new."""
    path = privacy_dir / LIST_FILE
    lines = path.read_text().splitlines() if path.exists() else []
    known = {json.loads(line)["hash"] for line in lines if line.strip()}
    added_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    new = [
        json.dumps({"kind": kind, "hash": digest, "added_at": added_at, "request_id": request_id})
        for kind, digest in dict.fromkeys(entries)
        if digest not in known
    ]
    if new:
        make_folder(privacy_dir)
        text = "".join(f"{line}\n" for line in [*lines, *new])
        replace_all([(write_temp_beside(path, text.encode()), path)])
    return len(new)
