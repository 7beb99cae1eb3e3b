"""The `aesthete` command line: score, scan, list and manage the library (no Qt)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Sequence

from app import logsetup
from app.config import paths, settings as settings_mod
from app.core import formats, scanner
from app.errors import AestheteError, ModelMissingError, PhotoError
from app import library
from app.library import ModelHolder, analyse, scan_folders
from app.pathutil import is_under
from app.storage import db, repo

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_SETUP, EXIT_INTERRUPTED = 0, 1, 2, 130


def _say(message: str) -> None:
    """A one-time step the user should know about (it takes minutes), on stderr."""
    print(f"{message}…", file=sys.stderr, flush=True)


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    d = {"default": argparse.SUPPRESS} if suppress else {}
    g = parser.add_argument_group("global options")
    g.add_argument("--db", type=Path, help="library database file (default: in the user data dir)", **d)
    g.add_argument("--config", type=Path, help="settings file (default: in the user config dir)", **d)
    for name in settings_mod.FLAG_SETTINGS:  # the settings every command takes, from the registry
        setting = settings_mod.REGISTRY[name]
        extra = {"choices": list(setting.choices)} if setting.choices else {}
        if setting.type is int:
            extra.update(type=int, metavar="N")
        g.add_argument(setting.option, help=setting.flag, **extra, **d)
    g.add_argument("--debug", action="store_true", help="log to the terminal, with tracebacks", **d)


def _rejects_default(argv: Sequence[str]) -> str:
    """The rejects_folder setting in effect (for the help text), or "" for the system trash; read
    from the settings file --config names, the environment and the default file."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path)
    try:
        known, _ = pre.parse_known_args(list(argv))
        return settings_mod.load(known.config).rejects_folder or ""
    except (AestheteError, OSError, ValueError, SystemExit):
        return ""


def build_parser(rejects_folder: str = "") -> argparse.ArgumentParser:
    """The parser; rejects_folder (the setting in effect) makes cull's help say where removed photos go."""
    parser = argparse.ArgumentParser(
        prog="aesthete", description="Score, sort and cull your photos by aesthetic quality.")
    _global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str, epilog: str | None = None) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog)
        _global_options(p, suppress=True)
        return p

    p = add("score", "score photo files and folders (recursive), using and filling the cache")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--json", action="store_true", help="one JSON object per photo on stdout")
    p.add_argument("--rescore", action="store_true", help="score again even when cached")

    p = add("scan", "add folders to the library and score what is new or changed")
    p.add_argument("folders", nargs="*", type=Path, metavar="FOLDER",
                   help="folders to add and scan (default: every library root)")
    p.add_argument("--rescore", action="store_true", help="score every photo again")

    p = add("list", "list cached photos and scores (never loads a model)")
    p.add_argument("folder", nargs="?", type=Path, metavar="FOLDER")
    p.add_argument("--sort", choices=["score", "date", "name", "size"], default="score")
    p.add_argument("--reverse", action="store_true", help="reverse the sort order")
    p.add_argument("--min", type=float, dest="min_score", metavar="X")
    p.add_argument("--max", type=float, dest="max_score", metavar="X")
    p.add_argument("--min-stars", type=int, choices=range(0, 6), default=0, metavar="N",
                   help="only photos rated N stars or more")
    p.add_argument("--flag", choices=["pick", "reject", "unrejected"], help="only picks, rejects, or all but rejects")
    p.add_argument("--json", action="store_true")

    p = add("roots", "manage library roots")
    roots_sub = p.add_subparsers(dest="roots_command", metavar="ACTION", required=True)
    for name, text in [("add", "add folders"),
                       ("remove", "take folders out of the library (files, scores and marks are kept)")]:
        rp = roots_sub.add_parser(name, help=text)
        _global_options(rp, suppress=True)
        rp.add_argument("folders", nargs="+", type=Path, metavar="FOLDER")
    rp = roots_sub.add_parser("list", help="list roots with photo counts")
    _global_options(rp, suppress=True)
    rp = roots_sub.add_parser("move", help="the folder was relocated: keep its scores")
    _global_options(rp, suppress=True)
    rp.add_argument("old", type=Path, metavar="OLD")
    rp.add_argument("new", type=Path, metavar="NEW")

    add("download", "download the model weights into the cache (needs the internet)")

    p = add("best", "group bursts and near-duplicates under FOLDER and pick the keeper of each")
    p.add_argument("folder", type=Path, metavar="FOLDER")
    p.add_argument("--json", action="store_true", help="one JSON object per group on stdout")

    p = add("cull", "list cull candidates under FOLDER and move them away (never deletes)",
            epilog="rules: score (below the threshold), blur (out of focus, motion blur), exposure (nearly black or "
                   "white, highlights lost), extra (not the pick of its burst or similar shots), copy (an exact copy). "
                   "A group's pick is only ever taken by the score rule or your reject. With neither --rules nor "
                   "--below the cull_rules setting applies (all five unless changed); --below X alone means the "
                   "score rule only.")
    p.add_argument("folder", type=Path, metavar="FOLDER")
    p.add_argument("--rules", metavar="RULE[,RULE...]",
                   help="exactly these rules: score, blur, exposure, extra, copy")
    p.add_argument("--below", type=float, metavar="X",
                   help="the score rule's threshold (alone: only the score rule, at X)")
    p.add_argument("--dry-run", action="store_true", help="only list the candidates")
    p.add_argument("--json", action="store_true", help="one JSON object per candidate on stdout")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    where = p.add_mutually_exclusive_group()
    if rejects_folder:
        rejects_folder = rejects_folder.replace("%", "%%")  # argparse formats help with %
        where.add_argument("--trash", action="store_true",
                           help=f"move to the system trash (default: the rejects folder {rejects_folder}, "
                                "from the rejects_folder setting)")
        where.add_argument("--move-to", type=Path, metavar="DIR",
                           help=f"move to this rejects folder (default: {rejects_folder}, "
                                "the rejects_folder setting)")
    else:
        where.add_argument("--trash", action="store_true",
                           help="move to the system trash (the default, as the rejects_folder setting is empty)")
        where.add_argument("--move-to", type=Path, metavar="DIR", help="move to this rejects folder")

    add("undo", "put back the files of the last removal")

    p = add("export", "copy the picks under FOLDER (with RAW companions) to DEST, keeping subfolders")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--picks", type=Path, metavar="DEST", help="the photos you marked as picks")
    what.add_argument("--keepers", type=Path, metavar="DEST",
                      help="your picks plus the automatic keeper of each group (bursts, similar shots, copies)")
    p.add_argument("folder", type=Path, metavar="FOLDER")

    p = add("mark", "rate, pick or reject photos (written to XMP sidecars when write_xmp is on)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--stars", type=int, choices=range(0, 6), metavar="0-5")
    p.add_argument("--flag", choices=["pick", "reject", "unmark"])

    p = add("gui", "open the desktop app")
    p.add_argument("folders", nargs="*", type=Path, metavar="FOLDER")

    p = add("settings", "show the settings and where each value comes from")
    p.add_argument("--set", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                   help="change a setting in the settings file")
    return parser


def load_settings(args: argparse.Namespace) -> settings_mod.Settings:
    return settings_mod.load(getattr(args, "config", None), settings_mod.flags_given(args))


def open_library(args: argparse.Namespace):
    from app import curation

    db_path = getattr(args, "db", None) or paths.default_db_path()
    if os.path.isdir(db_path):
        raise AestheteError(f"--db {db_path} is a folder; give the library database's file name")
    engine = db.open_db(db_path)
    repaired = curation.repair(engine)  # a removal interrupted by a crash is finished first
    if repaired:
        print(f"finished the record of an interrupted removal: {repaired.text()}", file=sys.stderr)
    return engine


class Interrupts:
    """First Ctrl+C asks the work to stop at the next safe point; a second one quits at once."""

    def __init__(self, cancel: threading.Event):
        self.cancel = cancel
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, *_):
        if self.cancel.is_set():
            os._exit(EXIT_INTERRUPTED)
        self.cancel.set()
        print("\nstopping after the current photo... (Ctrl+C again to quit at once)", file=sys.stderr)

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


class Progress:
    """A progress bar on stderr (images/s and ETA) when stderr is a terminal."""

    def __init__(self, total: int, label: str):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=label, unit="photo", file=sys.stderr, disable=None,
                        dynamic_ncols=True, smoothing=0.1)
        self.failures: list[tuple[str, str]] = []  # (path, reason) of the photos that failed

    def step(self, result, _item) -> None:
        if result.error is not None:
            self.failures.append((str(result.path), result.error.reason))
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


SHOWN_FAILURES = 10


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
        print(f"failed: {_printable(path)}: {reason}", file=sys.stderr)
    if len(shown) > SHOWN_FAILURES:
        print(f"... and {len(progress.failures) - SHOWN_FAILURES} more (`aesthete list` shows every reason)",
              file=sys.stderr)
    return summary


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
                print(f"not a photo, passed over: {_printable(path)}", file=sys.stderr)
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
    holder = ModelHolder(settings, on_status=_say)
    precision = holder.wanted_precision()
    items = library.pending(engine, holder, rescore=args.rescore, paths=wanted) if wanted else []
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
            print(f"failed: {_printable(path)}: {out['error']}", file=sys.stderr, flush=True)
        for line in lines:
            if args.json:
                print(json.dumps(line), flush=True)
            else:
                _print_table([(line.get("score"), line.get("error", ""), line["path"])])
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
          + (f", {_count(skipped, 'other file')} passed over" if skipped else ""), file=sys.stderr)
    return EXIT_FAILED if counts["failed"] else EXIT_OK


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


_CONTROL = {c: f"\\x{c:02x}" for c in [*range(32), 127]} | {10: "\\n", 13: "\\r", 9: "\\t"}


def _printable(path: str) -> str:
    """A name as text on one line: undecodable bytes replaced, control characters escaped
    (a newline in a file name must not read as two photos)."""
    return os.fsencode(path).decode("utf-8", "replace").translate(_CONTROL)


def _print_table(rows) -> None:
    for score, note, path in rows:
        left = f"{score:6.2f}" if score is not None else "     -"
        print(f"{left}  {_printable(path)}" + (f"  ({note})" if note else ""))


def _scan_and_analyse(args, settings, folders, quiet: bool = False):
    """Scan folders (adding them as roots) and analyse what is new; returns (engine, failed, code).
    code is None when the work finished, else the exit status to return."""
    for folder in folders or []:
        if not os.path.isdir(folder):
            raise AestheteError(f"{folder} is not a folder")
    engine = open_library(args)
    for folder in folders or []:
        print(f"looking for photos in {_printable(os.path.abspath(folder))} ...", file=sys.stderr)
    summary = scan_folders(engine, settings, folders or None)
    for folder in summary.added:
        print(f"added {_printable(folder)} to the library", file=sys.stderr)
    if summary.absorbed:
        print("  it takes in the library folders " + ", ".join(map(_printable, summary.absorbed))
              + " (`aesthete roots remove` the new folder to undo: scores and marks are kept)", file=sys.stderr)
    if not summary.roots:
        print("the library has no folders yet: aesthete scan FOLDER", file=sys.stderr)
        return engine, 0, EXIT_SETUP
    for root, report in summary.reports.items():
        if report.offline:
            print(f"{_printable(root)}: unreachable, its photos are marked offline", file=sys.stderr)
        elif not quiet:
            print(f"{_printable(root)}: {report.new} new, {report.changed} changed, {report.moved} moved, "
                  f"{report.missing} missing, {report.unchanged + report.returned} unchanged", file=sys.stderr)
    for problem in summary.folder_errors:
        print(f"cannot read folder {_printable(problem)}", file=sys.stderr)
    for problem in summary.sidecar_problems:
        print(f"sidecar ignored: {_printable(problem)}", file=sys.stderr)
    online = [r.path for r in summary.roots if not summary.reports[r.path].offline]
    if not online:
        return engine, 0, EXIT_FAILED
    if folders:  # only the folders asked for, even when they lie inside a larger root
        online = [os.path.abspath(f) for f in folders]
    holder = ModelHolder(settings, on_status=_say)
    try:
        items = library.pending(engine, holder, under=online, rescore=getattr(args, "rescore", False))
    except ModelMissingError:
        # Without model files, commands that only read results still work on a scored library.
        if args.command == "scan" or any(p.score is None and not p.error for f in online
                                          for p in repo.list_photos(engine, under=f)):
            raise
        items = []
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
        print(f"{scored} scored{rate}, {failed} failed, {_count(summary.skipped_other, 'other file')} passed over",
              file=sys.stderr)
    return engine, failed, None


def cmd_scan(args, settings) -> int:
    _engine, failed, code = _scan_and_analyse(args, settings, args.folders)
    if code is not None:
        return code
    return EXIT_FAILED if failed else EXIT_OK


def _member_json(m) -> dict:
    out = {"path": m.row.path, "score": None if m.row.score is None else round(m.row.score, 4)}
    if m.quality is not None:
        q = m.quality
        out.update(focus=round(q.focus, 3), blur_px=None if q.blur_px is None else round(q.blur_px, 2),
                   motion_px=round(q.motion_px, 2), brightness=round(q.brightness, 3),
                   clipped_highlights=round(q.clipped_highlights, 4), crushed_shadows=round(q.crushed_shadows, 4),
                   noise=round(q.noise, 2), width=q.width, height=q.height)
    out["faults"] = m.faults
    if m.row.flag:
        out["flag"] = m.row.flag
    if m.row.rating:
        out["rating"] = m.row.rating
    if m.row.companion:
        out["companion"] = m.row.companion
    return out


def cmd_best(args, settings) -> int:
    from app import curation

    engine, failed, code = _scan_and_analyse(args, settings, [args.folder], quiet=True)
    if code is not None:
        return code
    groups = curation.load_groups(engine, settings, os.path.abspath(args.folder))
    for g in groups:
        if args.json:
            print(json.dumps({"group": g.id, "kind": g.kind, "members": [_member_json(m) for m in g.members],
                              "pick": g.pick.row.path, "reason": g.reason}))
        else:
            print(f"{g.kind} of {len(g.members)}: keep {_printable(g.pick.row.path)}\n    {g.reason}")
            for m in g.members:
                if m is not g.pick:
                    s = "  -  " if m.row.score is None else f"{m.row.score:5.2f}"
                    print(f"    {s}  {_printable(m.row.path)}" + (f"  ({', '.join(m.faults)})" if m.faults else ""))
    print(f"{_count(len(groups), 'group')}, {_count(sum(len(g.members) for g in groups), 'photo')} in groups",
          file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def cmd_cull(args, settings) -> int:
    from app import curation

    try:  # a mistyped rule is said before any scanning
        curation.cull_rules(settings, args.rules, args.below)
    except curation.RuleError as exc:
        print(f"aesthete cull: {exc}", file=sys.stderr)
        return EXIT_SETUP
    engine, failed, code = _scan_and_analyse(args, settings, [args.folder], quiet=True)
    if code is not None:
        return code
    result = curation.cull_list(engine, settings, os.path.abspath(args.folder), args.below, args.rules)
    items = result.items
    for it in items:
        row = it.member.row
        if args.json:
            print(json.dumps({"path": row.path, "score": None if row.score is None else round(row.score, 4),
                              "rules": list(it.rules), "reasons": list(it.reasons)}))
        else:
            s = "  -  " if row.score is None else f"{row.score:5.2f}"
            print(f"{s}  {_printable(row.path)}  ({'; '.join(it.reasons)})")
    where = "the system trash" if args.trash or not (args.move_to or settings.rejects_folder) else \
        str(args.move_to or settings.rejects_folder)
    print(f"{_count(len(items), 'cull candidate')} under rules {result.rules_text()}", file=sys.stderr)
    if items:
        print(f"by rule: {result.counts_text()}", file=sys.stderr)
    if args.below is not None and args.rules is not None and "score" not in result.rules:
        print("note: --below sets the score rule's threshold, and score is not among --rules", file=sys.stderr)
    if result.scenes_lost:
        print(f"note: every frame of {_count(result.scenes_lost, 'scene')} would go (a group whose every photo "
              "is a candidate)", file=sys.stderr)
    present = sum(1 for p in repo.list_photos(engine, under=os.path.abspath(args.folder)) if p.status != "failed")
    if items and len(items) >= present:
        print(f"note: that is every photo under {_printable(os.path.abspath(args.folder))}", file=sys.stderr)
    if args.dry_run or not items:
        return EXIT_FAILED if failed else EXIT_OK
    if not args.yes and not sys.stdin.isatty():
        print("nothing moved: no terminal to confirm (pass --yes)", file=sys.stderr)
        return EXIT_SETUP
    if not args.yes and not _confirm(f"Move {_count(len(items), 'photo')} to {where}?"):
        print("nothing moved", file=sys.stderr)
        return EXIT_FAILED if failed else EXIT_OK
    report = curation.remove_photos(engine, settings, [it.member.row.id for it in items],
                                    rejects_folder=str(args.move_to) if args.move_to else None, trash=args.trash)
    for problem in report.failed:
        print(f"not moved: {_printable(problem)}", file=sys.stderr)
    extra = len(report.moved) - len(items)
    print(f"moved {_count(len(report.moved), 'file')} to {where}"
          + (f" (the photos with {_count(extra, 'RAW or XMP companion file')})" if extra > 0 else "")
          + "; `aesthete undo` puts them back", file=sys.stderr)
    return EXIT_FAILED if (failed or report.failed) else EXIT_OK


def cmd_undo(args, settings) -> int:
    from app import curation

    engine = open_library(args)
    report = curation.undo_last(engine)
    if report.removal_id is None:
        print("nothing to undo", file=sys.stderr)
        return EXIT_OK
    for problem in report.failed:
        print(f"not restored: {_printable(problem)}", file=sys.stderr)
    print(f"restored {_count(len(report.restored), 'file')}", file=sys.stderr)
    return EXIT_FAILED if report.failed else EXIT_OK


def cmd_export(args, settings) -> int:
    from app import curation

    engine, failed, code = _scan_and_analyse(args, settings, [args.folder], quiet=True)
    if code is not None:
        return code
    keepers = args.keepers is not None
    dest = curation.check_export_dest(engine, args.keepers if keepers else args.picks)
    under = os.path.abspath(args.folder)
    rows = curation.export_list(engine, settings, under, keepers=keepers)
    files = len(rows) + sum(1 for r in rows if r.companion)
    what = _count(len(rows), "keeper") + " (your picks and each group's keeper)" if keepers \
        else _count(len(rows), "pick")
    if not rows:
        print(f"nothing to export: no photo under {_printable(under)} is marked as a pick"
              + ("" if keepers else " (`aesthete mark --flag pick PHOTO` marks one; `export --keepers` "
                 "also copies each group's automatic keeper)"), file=sys.stderr)
        return EXIT_FAILED if failed else EXIT_OK
    print(f"exporting {what}" + (f" ({_count(files, 'file')} with RAW companions)" if files != len(rows) else "")
          + f" to {_printable(str(dest))}", file=sys.stderr)
    report = curation.export_picks(engine, settings, dest, under, keepers=keepers)
    print(f"copied {_count(len(report.copied), 'file')} to {_printable(str(dest))}"
          + (f"; {_count(len(report.already), 'file')} already there from an earlier export"
             if report.already else ""),
          file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_mark(args, settings) -> int:
    from app import curation

    if args.stars is None and args.flag is None:
        raise AestheteError("say what to mark: --stars 0-5 and/or --flag pick|reject|unmark")
    engine = open_library(args)
    wanted = [os.path.abspath(p) for p in args.paths]
    photos = repo.list_photos(engine, paths=wanted)
    for p in sorted(set(wanted) - {p.path for p in photos}):
        if not os.path.lexists(p):  # a photo on an unplugged drive is still in the library
            raise AestheteError(f"{p}: no such file")
    missing = set(wanted) - {p.path for p in photos}
    for m in sorted(missing):
        print(f"not in the library (scan it first): {_printable(m)}", file=sys.stderr)
    flag = {"pick": "pick", "reject": "reject", "unmark": ""}.get(args.flag) if args.flag else None
    problems = curation.set_marks(engine, settings, [p.id for p in photos], stars=args.stars, flag=flag)
    for problem in problems:
        print(_printable(problem), file=sys.stderr)
    print(f"marked {_count(len(photos), 'photo')}", file=sys.stderr)
    return EXIT_FAILED if missing or problems else EXIT_OK


def cmd_list(args, settings) -> int:
    engine = open_library(args)
    if args.folder is not None and os.path.isfile(args.folder):
        raise AestheteError(f"{args.folder} is a file: `aesthete list` takes a folder (`aesthete score` answers for files)")
    model_key = None
    if settings.explicit("encoder") or settings.explicit("head"):
        model_key = ModelHolder(settings, allow_download=False).key()
    descending = (args.sort not in ("score", "size", "date")) if args.reverse else None
    photos = repo.list_photos(engine, sort=args.sort, descending=descending,
                              min_score=args.min_score, max_score=args.max_score,
                              min_rating=args.min_stars, flag=args.flag,
                              under=os.path.abspath(args.folder) if args.folder else None,
                              model_key=model_key, library_only=args.folder is None)
    for p in photos:
        if args.json:
            print(json.dumps({"path": p.path, "score": None if p.score is None else round(p.score, 4),
                              "model": p.score_model, "state": p.status, "rating": p.rating, "flag": p.flag,
                              **({"error": p.error} if p.error else {})}))
        else:
            _print_table([(p.score, "" if p.status == "scored" else p.error or p.status, p.path)])
    print(_count(len(photos), "photo"), file=sys.stderr)
    if not photos and args.folder is not None and not os.path.isdir(args.folder):
        # An unplugged drive still lists what is cached; a folder that is neither is a typo.
        raise AestheteError(f"{args.folder}: no such folder, and nothing cached under it")
    if not photos and args.folder is None and args.min_score is None and args.max_score is None \
            and not args.min_stars and args.flag is None:
        outside = len(repo.list_photos(engine, model_key=model_key))
        if outside:  # `score` caches photos without adding their folders to the library
            print(f"{_count(outside, 'photo')} {'is' if outside == 1 else 'are'} cached outside the library folders: `aesthete list FOLDER` shows "
                  "them, `aesthete scan FOLDER` adds a folder to the library", file=sys.stderr)
    return EXIT_OK


def cmd_roots(args, settings) -> int:
    engine = open_library(args)
    action = args.roots_command
    if action == "add":
        for folder in args.folders:
            if not folder.is_dir():
                raise AestheteError(f"{folder} is not a folder")
            before = {r.path for r in repo.list_roots(engine)}
            root = repo.add_root(engine, folder)
            absorbed = sorted(before - {r.path for r in repo.list_roots(engine)})
            print(f"added {_printable(root.path)}; run `aesthete scan` to score it", file=sys.stderr)
            if absorbed:
                print("  it takes in the library folders " + ", ".join(map(_printable, absorbed)), file=sys.stderr)
    elif action == "remove":
        for folder in args.folders:
            count = repo.remove_root(engine, folder)
            if count is None:
                raise AestheteError(f"{folder} is not a library root (see `aesthete roots list`)")
            print(f"removed {_printable(os.path.abspath(folder))} from the library ({_count(count, 'photo')}; "
                  "the files were not touched). Their scores and marks stay cached: adding the folder, or "
                  "a folder inside it, again brings them back.", file=sys.stderr)
    elif action == "list":
        for root in repo.list_roots(engine):
            state = "" if root.online else "  (offline)"
            print(f"{root.photo_count:8d}  {_printable(root.path)}{state}")
    elif action == "move":
        if not args.new.is_dir():
            raise AestheteError(f"{args.new} is not a folder")
        try:
            count = repo.move_root(engine, args.old, args.new)
        except KeyError:
            raise AestheteError(f"{args.old} is not a library root (see `aesthete roots list`)") from None
        except ValueError as exc:
            raise AestheteError(str(exc)) from None
        print(f"the library's record{'' if count == 1 else 's'} of {_count(count, 'photo')} now "
              f"point{'s' if count == 1 else ''} to {_printable(os.path.abspath(args.new))} (no files were moved); "
              "scores and marks kept", file=sys.stderr)
    return EXIT_OK


def cmd_download(args, settings) -> int:
    from app.core import model as model_files

    print(f"encoder {settings.encoder} ...", file=sys.stderr)
    enc = model_files.resolve_encoder(settings.encoder, allow_download=True)
    print(f"  ready in {_printable(str(enc.path))}", file=sys.stderr)
    print(f"head {settings.head} ...", file=sys.stderr)
    head = model_files.resolve_head(settings.head, allow_download=True)
    print(f"  ready in {_printable(str(head.path))} (sha256 {head.sha256[:16]}...)", file=sys.stderr)
    return EXIT_OK


def cmd_settings(args, settings) -> int:
    if args.set:
        settings_mod.save(settings.path, dict(args.set))
        settings = load_settings(args)
    for name, setting in settings_mod.REGISTRY.items():
        print(f"{name} = {getattr(settings, name)!r}  [{settings.sources[name]}]  {setting.doc}")
    print(f"settings file: {settings.path}", file=sys.stderr)
    return EXIT_OK


def cmd_gui(args, settings) -> int:
    try:
        from app.ui.app import run_gui
    except ImportError as exc:
        raise AestheteError(f"the desktop app cannot start: {exc} (is PySide6 installed?)") from None
    return run_gui(args, settings)


COMMANDS = {"score": cmd_score, "scan": cmd_scan, "list": cmd_list, "roots": cmd_roots,
            "download": cmd_download, "settings": cmd_settings, "gui": cmd_gui, "best": cmd_best,
            "cull": cmd_cull, "undo": cmd_undo, "export": cmd_export, "mark": cmd_mark}


VALUE_OPTIONS = {"--db", "--config", "--encoder", "--head", "--device", "--precision", "--runtime", "--batch-size"}


def _folder_means_gui(argv: list[str]) -> list[str]:
    """`aesthete ~/Pictures` opens the app on that folder, as `aesthete gui ~/Pictures` does."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("--") and "=" not in token and any(v.startswith(token) for v in VALUE_OPTIONS):
            i += 2  # argparse also takes unambiguous abbreviations (--enc DIR)
            continue
        if token.startswith("-"):
            i += 1
            continue
        if token not in COMMANDS and os.path.isdir(token):
            return argv[:i] + ["gui"] + argv[i:]
        return argv
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_rejects_default(argv) if "-h" in argv or "--help" in argv else "")
    args = parser.parse_args(_folder_means_gui(argv))
    logsetup.setup(debug=getattr(args, "debug", False))
    if args.command is None:
        args.command, args.folders = "gui", []
    try:
        settings = load_settings(args)
        return COMMANDS[args.command](args, settings)
    except PhotoError as exc:
        print(f"aesthete: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except AestheteError as exc:
        log.error("%s", exc, exc_info=getattr(args, "debug", False))
        print(f"aesthete: {exc}", file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # a bug, or the database failing under us: one line here, the rest in the log
        log.exception("unexpected error")
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0][:300]
        if "database is locked" in first:
            print("aesthete: the library database is busy (another Aesthete is writing); try again",
                  file=sys.stderr)
        elif "malformed" in first or "not a database" in first:
            print(f"aesthete: the library database is damaged ({first}); restore a backup or pass --db",
                  file=sys.stderr)
        else:
            print(f"aesthete: internal error: {type(exc).__name__}: {first} (details in {paths.log_path()})",
                  file=sys.stderr)
        return EXIT_SETUP
