"""The erasure request log and the work file of a request under way.

`$OPTOUT_PRIVACY_DIR/requests.jsonl` gets one line per completed erasure: its id, when it
was asked and finished, the reason, the salted hashes of the ids (never the ids), the ids
that matched nobody (as hashes) and what was removed from each place. While a request
runs, `pending/<request id>.json` holds what a run cut short needs to finish it: the ids
in clear (owner-only, 0600), the places done and their counts. It is deleted when the
request completes; running the same command again resumes from it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from assets.atomic_files import make_folder, replace_all, write_temp_beside

REQUEST_LOG = "requests.jsonl"
PENDING = "pending"


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def request_id(salt: bytes, user_ids: list[str], external_ids: list[str]) -> str:
    """The same ids give the same request: running the command again finds the request under way.

    Keyed by the installation's salt, as the suppression list is: the request log names
    nobody, and an id cannot be found from its request id by trying candidates."""
    text = json.dumps([sorted(set(user_ids)), sorted(set(external_ids))])
    return "erase-" + hmac.new(salt, text.encode(), hashlib.sha256).hexdigest()[:16]


@dataclass
class ErasureRequest:
    request_id: str
    reason: str
    requested_at: str
    # what was asked, and the people it resolved to (each user id's external ids, each external id's users)
    asked_user_ids: list[str]
    asked_external_ids: list[str]
    user_ids: list[str] = field(default_factory=list)
    external_ids: list[str] = field(default_factory=list)
    matched_nobody: list[str] = field(default_factory=list)
    places_done: list[str] = field(default_factory=list)
    removed: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def pending_path(privacy_dir: Path, request: str) -> Path:
        return privacy_dir / PENDING / f"{request}.json"

    @classmethod
    def resume(cls, privacy_dir: Path, request: str) -> ErasureRequest | None:
        path = cls.pending_path(privacy_dir, request)
        return cls(**json.loads(path.read_text())) if path.exists() else None

    def save(self, privacy_dir: Path) -> None:
        path = self.pending_path(privacy_dir, self.request_id)
        make_folder(path.parent)
        replace_all([(write_temp_beside(path, json.dumps(asdict(self), indent=1).encode()), path)])

    def done(self, privacy_dir: Path, place: str, removed: int) -> None:
        """Record a place as finished (with what it removed), durably, before the next one starts."""
        self.places_done.append(place)
        self.removed[place] = removed
        self.save(privacy_dir)

    def complete(self, privacy_dir: Path, hashes: list[dict[str, str]], unmatched_hashes: list[str]) -> dict:
        """Append the request to the log and delete its work file; returns the log entry."""
        entry = {
            "request_id": self.request_id,
            "requested_at": self.requested_at,
            "completed_at": now(),
            "reason": self.reason,
            "hashes": hashes,
            "ids_matching_nobody": unmatched_hashes,
            "removed": self.removed,
        }
        log = privacy_dir / REQUEST_LOG
        lines = log.read_text() if log.exists() else ""
        replace_all([(write_temp_beside(log, (lines + json.dumps(entry) + "\n").encode()), log)])
        self.pending_path(privacy_dir, self.request_id).unlink(missing_ok=True)
        return entry


def read_request_log(privacy_dir: Path) -> list[dict]:
    log = privacy_dir / REQUEST_LOG
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
