"""Commands that curate: best (the keeper of each group), cull (and undo), export, mark."""
from __future__ import annotations

import json
import os
import sys

from app.cli.common import EXIT_FAILED, EXIT_OK, EXIT_SETUP, confirm, count, open_library, printable
from app.cli.scoring import scan_and_analyse
from app.errors import AestheteError
from app.storage import repo


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

    engine, failed, code = scan_and_analyse(args, settings, [args.folder], quiet=True)
    if code is not None:
        return code
    groups = curation.load_groups(engine, settings, os.path.abspath(args.folder))
    for g in groups:
        if args.json:
            print(json.dumps({"group": g.id, "kind": g.kind, "members": [_member_json(m) for m in g.members],
                              "pick": g.pick.row.path, "reason": g.reason}))
        else:
            print(f"{g.kind} of {len(g.members)}: keep {printable(g.pick.row.path)}\n    {g.reason}")
            for m in g.members:
                if m is not g.pick:
                    s = "  -  " if m.row.score is None else f"{m.row.score:5.2f}"
                    print(f"    {s}  {printable(m.row.path)}" + (f"  ({', '.join(m.faults)})" if m.faults else ""))
    print(f"{count(len(groups), 'group')}, {count(sum(len(g.members) for g in groups), 'photo')} in groups",
          file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_cull(args, settings) -> int:
    from app import curation

    try:  # a mistyped rule is said before any scanning
        curation.cull_rules(settings, args.rules, args.below)
    except curation.RuleError as exc:
        print(f"aesthete cull: {exc}", file=sys.stderr)
        return EXIT_SETUP
    engine, failed, code = scan_and_analyse(args, settings, [args.folder], quiet=True)
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
            print(f"{s}  {printable(row.path)}  ({'; '.join(it.reasons)})")
    where = "the system trash" if args.trash or not (args.move_to or settings.rejects_folder) else \
        str(args.move_to or settings.rejects_folder)
    print(f"{count(len(items), 'cull candidate')} under rules {result.rules_text()}", file=sys.stderr)
    if items:
        print(f"by rule: {result.counts_text()}", file=sys.stderr)
    if args.below is not None and args.rules is not None and "score" not in result.rules:
        print("note: --below sets the score rule's threshold, and score is not among --rules", file=sys.stderr)
    if result.scenes_lost:
        print(f"note: every frame of {count(result.scenes_lost, 'scene')} would go (a group whose every photo "
              "is a candidate)", file=sys.stderr)
    present = sum(1 for p in repo.list_photos(engine, under=os.path.abspath(args.folder)) if p.status != "failed")
    if items and len(items) >= present:
        print(f"note: that is every photo under {printable(os.path.abspath(args.folder))}", file=sys.stderr)
    if args.dry_run or not items:
        return EXIT_FAILED if failed else EXIT_OK
    if not args.yes and not sys.stdin.isatty():
        print("nothing moved: no terminal to confirm (pass --yes)", file=sys.stderr)
        return EXIT_SETUP
    if not args.yes and not confirm(f"Move {count(len(items), 'photo')} to {where}?"):
        print("nothing moved", file=sys.stderr)
        return EXIT_FAILED if failed else EXIT_OK
    report = curation.remove_photos(engine, settings, [it.member.row.id for it in items],
                                    rejects_folder=str(args.move_to) if args.move_to else None, trash=args.trash)
    for problem in report.failed:
        print(f"not moved: {printable(problem)}", file=sys.stderr)
    extra = len(report.moved) - len(items)
    print(f"moved {count(len(report.moved), 'file')} to {where}"
          + (f" (the photos with {count(extra, 'RAW or XMP companion file')})" if extra > 0 else "")
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
        print(f"not restored: {printable(problem)}", file=sys.stderr)
    print(f"restored {count(len(report.restored), 'file')}", file=sys.stderr)
    return EXIT_FAILED if report.failed else EXIT_OK


def cmd_export(args, settings) -> int:
    from app import curation

    engine, failed, code = scan_and_analyse(args, settings, [args.folder], quiet=True)
    if code is not None:
        return code
    keepers = args.keepers is not None
    dest = curation.check_export_dest(engine, args.keepers if keepers else args.picks)
    under = os.path.abspath(args.folder)
    rows = curation.export_list(engine, settings, under, keepers=keepers)
    files = len(rows) + sum(1 for r in rows if r.companion)
    what = count(len(rows), "keeper") + " (your picks and each group's keeper)" if keepers \
        else count(len(rows), "pick")
    if not rows:
        print(f"nothing to export: no photo under {printable(under)} is marked as a pick"
              + ("" if keepers else " (`aesthete mark --flag pick PHOTO` marks one; `export --keepers` "
                 "also copies each group's automatic keeper)"), file=sys.stderr)
        return EXIT_FAILED if failed else EXIT_OK
    print(f"exporting {what}" + (f" ({count(files, 'file')} with RAW companions)" if files != len(rows) else "")
          + f" to {printable(str(dest))}", file=sys.stderr)
    report = curation.export_picks(engine, settings, dest, under, keepers=keepers)
    print(f"copied {count(len(report.copied), 'file')} to {printable(str(dest))}"
          + (f"; {count(len(report.already), 'file')} already there from an earlier export"
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
        print(f"not in the library (scan it first): {printable(m)}", file=sys.stderr)
    flag = {"pick": "pick", "reject": "reject", "unmark": ""}.get(args.flag) if args.flag else None
    problems = curation.set_marks(engine, settings, [p.id for p in photos], stars=args.stars, flag=flag)
    for problem in problems:
        print(printable(problem), file=sys.stderr)
    print(f"marked {count(len(photos), 'photo')}", file=sys.stderr)
    return EXIT_FAILED if missing or problems else EXIT_OK
