"""`optout subject export|erase`: what the project holds about people, and erasing them (docs/privacy.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assets.atomic_files import make_folder, replace_all, write_temp_beside
from assets.shown_text import escape_controls
from orchestration.commands.common import CliError, progress, settings
from orchestration.erasure import erase, read_id_file, resolve_people


def subject_command(args: argparse.Namespace) -> None:
    user_ids, external_ids = list(args.user or []), list(args.external_id or [])
    for path in getattr(args, "from_file", None) or []:
        users, externals = read_id_file(Path(path))
        user_ids += users
        external_ids += externals
    if not user_ids and not external_ids:
        raise CliError(
            f"{args.subject_command}: name at least one person (--user, --external-id or --from-file)"
        )
    config = settings()
    if args.subject_command == "export":
        _export(config, user_ids, external_ids, Path(args.out))
    else:
        _erase(config, user_ids, external_ids, args.reason or "")


def _export(config, user_ids: list[str], external_ids: list[str], out: Path) -> None:
    from assets.privacy.subject_export import subject_document

    subjects, unmatched = resolve_people(config.lake_dir, user_ids, external_ids)
    document = subject_document(
        config.lake_dir,
        config.serving_dir,
        config.export_dir,
        subjects,
        {"user_ids": user_ids, "external_ids": external_ids},
        landing=(config.landing_dir, config.source),
    )
    document["matched_nobody"] = unmatched
    make_folder(out.parent)
    replace_all([(write_temp_beside(out, json.dumps(document, indent=2, ensure_ascii=False).encode()), out)])
    counts = ", ".join(
        f"{len(document[key])} {key.replace('_', ' ')}"
        for key in (
            "profile_versions",
            "consent_events",
            "consent_history",
            "messages_received",
            "app_events",
            "opt_outs",
            "quarantined_records",
            "export_files",
            "landing_records",
        )
    )
    for value in unmatched:
        progress(f"{value!r} matches nobody in the lake")
    for entry in document["landing_files_not_read"]:
        progress(f"warning: cannot read {escape_controls(entry)}: look at it by hand")
    progress(f"wrote {out}: {counts}")


def _erase(config, user_ids: list[str], external_ids: list[str], reason: str) -> None:
    entry = erase(config, user_ids, external_ids, reason)
    removed = ", ".join(f"{place} {count}" for place, count in entry["removed"].items())
    print(
        f"erased {len(entry['hashes'])} ids in {entry['seconds']}s (request {entry['request_id']}): {removed}"
    )
    print(f"  request log: {config.privacy_dir / 'requests.jsonl'}")
