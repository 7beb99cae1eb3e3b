"""Commands that score: score (files and folders), scan (the library's folders), download (the model)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Sequence

from app import library
from app.cli.common import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_SETUP, Interrupts, Progress,
                            SHOWN_FAILURES, count, open_library, print_table, printable, say)
from app.core import formats, scanner
from app.errors import AestheteError, ModelMissingError
from app.library import ModelHolder, analyse, scan_folders
from app.pathutil import is_under
from app.storage import repo


def _run_analysis(engine, holder: ModelHolder, items, label: str, on_result=None):
    """Analyse items with a progress bar; on_result (which may print to stdout) runs per photo,
    and without it the photos that failed are named at the end."""
    if not items:
        return None
    from tqdm import tqdm

    progress = Progress(len(items), label)

    def step(result, item) -> None:
        progress.step(result, item)
        if on_result is not None:
            with tqdm.external_write_mode(file=sys.stdout):  # the bar clears its line first
                on_result(result, item)

    try:
        with Interrupts(holder.cancel):
            summary = analyse(engine, holder, items, on_result=step,
                              batch_size=holder.settings.batch_size or None)
    finally:
        progress.close()
    shown = [] if on_result is not None else progress.failures  # on_result has printed them
    for path, reason in shown[:SHOWN_FAILURES]:
        print(f"failed: {printable(path)}: {reason}", file=sys.stderr)
    if len(shown) > SHOWN_FAILURES:
        print(f"... and {len(progress.failures) - SHOWN_FAILURES} more (`aesthete list` shows every reason)",
              file=sys.stderr)
    return summary


def tell_faces_off(holder: ModelHolder) -> None:
    """One line on stderr when a run's analysis goes on without face checks (each command that
    analyses calls it once, before its analysis)."""
    if holder.faces() is None:
        why = holder.faces_off or "face checks are off"
        print(why[:1].lower() + why[1:], file=sys.stderr)


def _entries_for_paths(targets: Sequence[Path], settings) -> tuple[list[scanner.ScanEntry], list[str], int]:
    """Files and folders named on the command line, as scan entries; folders are walked."""
    entries: list[scanner.ScanEntry] = []
    folders: list[str] = []
    skipped = 0
    for target in targets:
        path = os.path.abspath(os.fspath(target))
        if os.path.isdir(path):
            folders.append(path)
            result = scanner.scan(path, settings.exclude)
            entries += result.entries
            skipped += result.skipped_other
        elif formats.kind_of(os.path.splitext(path)[1]) == "other":
            if os.path.lexists(path):
                skipped += 1
                print(f"not a photo, passed over: {printable(path)}", file=sys.stderr)
            else:
                raise AestheteError(f"{target}: no such file or folder")
        elif os.path.lexists(path):
            entries.append(scanner._entry(path, os.path.basename(path)))
        else:
            raise AestheteError(f"{target}: no such file or folder")
    unique = list({e.path: e for e in entries}.values())  # a file named twice is answered once
    return unique, folders, skipped


def cmd_score(args, settings) -> int:
    engine = open_library(args)
    entries, folders, skipped = _entries_for_paths(args.paths, settings)
    roots = repo.list_roots(engine)

    def root_of(path: str) -> int | None:
        return next((r.id for r in roots if is_under(path, r.path, or_same=False)), None)

    by_root: dict[int | None, list[scanner.ScanEntry]] = {}
    for e in entries:
        by_root.setdefault(root_of(e.path), []).append(e)
    for root_id, group in by_root.items():
        library.sync_entries(engine, root_id, group)
    wanted = [e.path for e in entries]
    holder = ModelHolder(settings, on_status=say)
    precision = holder.wanted_precision()
    items = library.pending(engine, holder, rescore=args.rescore, paths=wanted) if wanted else []
    if items:
        tell_faces_off(holder)
    counts = {"scored": 0, "failed": 0}
    companions = {e.path: e.companion for e in entries}

    def emit(path: str, score: float | None, error: str | None) -> None:
        """One photo's line (and its RAW companion's), printed as soon as it is known."""
        out: dict = {"path": path}
        if error or score is None:
            out["error"] = error or "not scored"
            counts["failed"] += 1
        else:
            out["score"] = round(score, 4)
            counts["scored"] += 1
        lines = [out] + ([{**out, "path": companions[path], "companion_of": path}] if companions.get(path) else [])
        if args.json and "error" in out:  # stdout stays pure JSON; the failure is named on stderr too
            print(f"failed: {printable(path)}: {out['error']}", file=sys.stderr, flush=True)
        for line in lines:
            if args.json:
                print(json.dumps(line), flush=True)
            else:
                print_table([(line.get("score"), line.get("error", ""), line["path"])])
                sys.stdout.flush()

    # What is cached first, then each photo as the model finishes it (a long run streams).
    waiting = {i.path for i in items}
    cached = [p for p in wanted if p not in waiting]
    rows = {p.path: p for p in repo.list_photos(engine, sort="name", model_key=holder.key(), precision=precision,
                                                paths=cached, include_missing=True)} if cached else {}
    for path in cached:
        photo = rows.get(path)
        emit(path, photo.score if photo else None, photo.error if photo else None)

    def analysed(result, item) -> None:
        score = result.score
        if score is None and result.error is None:  # analysed again for quality only: its score is kept
            kept = repo.list_photos(engine, model_key=holder.key(), precision=precision, paths=[item.path])
            score = kept[0].score if kept else None
        emit(item.path, score, result.error.reason if result.error else None)

    _run_analysis(engine, holder, items, "scoring", on_result=analysed)
    if holder.cancel.is_set():
        print("interrupted: scores so far are saved; run again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"{counts['scored']} scored, {counts['failed']} failed"
          + (f", {count(skipped, 'other file')} passed over" if skipped else ""), file=sys.stderr)
    return EXIT_FAILED if counts["failed"] else EXIT_OK


def scan_and_analyse(args, settings, folders, quiet: bool = False):
    """Scan folders (adding them as roots) and analyse what is new; returns (engine, failed, code).
    code is None when the work finished, else the exit status to return."""
    for folder in folders or []:
        if not os.path.isdir(folder):
            raise AestheteError(f"{folder} is not a folder")
    engine = open_library(args)
    for folder in folders or []:
        print(f"looking for photos in {printable(os.path.abspath(folder))} ...", file=sys.stderr)
    summary = scan_folders(engine, settings, folders or None)
    for folder in summary.added:
        print(f"added {printable(folder)} to the library", file=sys.stderr)
    if summary.absorbed:
        print("  it takes in the library folders " + ", ".join(map(printable, summary.absorbed))
              + " (`aesthete roots remove` the new folder to undo: scores and marks are kept)", file=sys.stderr)
    if not summary.roots:
        print("the library has no folders yet: aesthete scan FOLDER", file=sys.stderr)
        return engine, 0, EXIT_SETUP
    for root, report in summary.reports.items():
        if report.offline:
            print(f"{printable(root)}: unreachable, its photos are marked offline", file=sys.stderr)
        elif not quiet:
            print(f"{printable(root)}: {report.new} new, {report.changed} changed, {report.moved} moved, "
                  f"{report.missing} missing, {report.unchanged + report.returned} unchanged", file=sys.stderr)
    for problem in summary.folder_errors:
        print(f"cannot read folder {printable(problem)}", file=sys.stderr)
    for problem in summary.sidecar_problems:
        print(f"sidecar ignored: {printable(problem)}", file=sys.stderr)
    online = [r.path for r in summary.roots if not summary.reports[r.path].offline]
    if not online:
        return engine, 0, EXIT_FAILED
    if folders:  # only the folders asked for, even when they lie inside a larger root
        online = [os.path.abspath(f) for f in folders]
    holder = ModelHolder(settings, on_status=say)
    try:
        items = library.pending(engine, holder, under=online, rescore=getattr(args, "rescore", False))
    except ModelMissingError:
        # Without model files, commands that only read results still work on a scored library.
        if args.command == "scan" or any(p.score is None and not p.error for f in online
                                          for p in repo.list_photos(engine, under=f)):
            raise
        items = []
    if items:
        tell_faces_off(holder)
    result = _run_analysis(engine, holder, items, "analysing")
    if holder.cancel.is_set():
        print("interrupted: results so far are saved; run again to resume", file=sys.stderr)
        return engine, 0, EXIT_INTERRUPTED
    scored = result.scored if result else 0
    failed = result.failed if result else 0
    rate = ""
    if result and result.times.wall > 0 and scored:
        rate = f" ({scored / result.times.wall:.2f} photos/s)"
    if not quiet or scored or failed:
        print(f"{scored} scored{rate}, {failed} failed, {count(summary.skipped_other, 'other file')} passed over",
              file=sys.stderr)
    return engine, failed, None


def cmd_scan(args, settings) -> int:
    _engine, failed, code = scan_and_analyse(args, settings, args.folders)
    if code is not None:
        return code
    return EXIT_FAILED if failed else EXIT_OK


def cmd_download(args, settings) -> int:
    from app.config.models import V2_5, spec
    from app.core import weights

    own = spec(settings.model)
    encoder, head_spec = getattr(settings, own.encoder_setting), getattr(settings, own.head_setting)
    print(f"encoder {encoder} ...", file=sys.stderr)
    enc = weights.resolve_encoder(encoder, allow_download=True, model=own)
    print(f"  ready in {printable(str(enc.path))}", file=sys.stderr)
    try:  # search by words needs the tokenizer too (a cache from an older release lacks it)
        if own is V2_5:
            weights.resolve_text_tower(encoder, allow_download=True)
    except ModelMissingError as exc:
        print(f"  search by words is off: {exc}", file=sys.stderr)
    print(f"head {head_spec} ...", file=sys.stderr)
    head = weights.resolve_head(head_spec, allow_download=True, model=own)
    print(f"  ready in {printable(str(head.path))} (sha256 {head.sha256[:16]}...)", file=sys.stderr)
    from app.core import faces

    print(f"face model {settings.faces_model or faces.FACES_MODEL_URL} ...", file=sys.stderr)
    face_model = faces.resolve_faces_model(settings.faces_model or None, allow_download=True)
    print(f"  ready in {printable(str(face_model.path))} (sha256 {face_model.sha256[:16]}...)", file=sys.stderr)
    return EXIT_OK
