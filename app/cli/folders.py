"""Commands over the library itself: list, roots, settings, and gui (which starts the desktop app)."""
from __future__ import annotations

import json
import os
import sys

from app.cli.common import EXIT_OK, count, load_settings, open_library, print_table, printable
from app.config import models, settings as settings_mod
from app.errors import AestheteError
from app.library import ModelHolder
from app.storage import repo, secondlook


def cmd_list(args, settings) -> int:
    engine = open_library(args)
    if args.folder is not None and os.path.isfile(args.folder):
        raise AestheteError(f"{args.folder} is a file: `aesthete list` takes a folder (`aesthete score` answers for files)")
    model_key = None
    own = models.spec(settings.model)
    if settings.explicit(own.encoder_setting) or settings.explicit(own.head_setting):
        model_key = ModelHolder(settings, allow_download=False).key()
    descending = (args.sort not in ("score", "size", "date")) if args.reverse else None
    photos = repo.list_photos(engine, sort=args.sort, descending=descending,
                              min_score=args.min_score, max_score=args.max_score,
                              min_rating=args.min_stars, flag=args.flag,
                              under=os.path.abspath(args.folder) if args.folder else None,
                              model_key=model_key, model=settings.model, library_only=args.folder is None,
                              eyes_closed=args.eyes_closed)
    by_model = secondlook.model_scores(engine, [p.id for p in photos]) if args.json else {}
    taste = _taste_values(engine, settings) if args.json else {}
    for p in photos:
        if args.json:
            value = taste.get(p.id)
            print(json.dumps({"path": p.path, "score": None if p.score is None else round(p.score, 4),
                              "scores": {m: round(s, 4) for m, s in by_model.get(p.id, {}).items()},
                              "model": p.score_model, "state": p.status, "rating": p.rating, "flag": p.flag,
                              "taste": None if value is None else round(value, 4),
                              **({"error": p.error} if p.error else {}),
                              **({} if p.closed_eyes is None else {"closed_eyes": p.closed_eyes})}))
        else:
            print_table([(p.score, "" if p.status == "scored" else p.error or p.status, p.path)])
    print(count(len(photos), "photo"), file=sys.stderr)
    if not photos and args.folder is not None and not os.path.isdir(args.folder):
        # An unplugged drive still lists what is cached; a folder that is neither is a typo.
        raise AestheteError(f"{args.folder}: no such folder, and nothing cached under it")
    if not photos and args.folder is None and args.min_score is None and args.max_score is None \
            and not args.min_stars and args.flag is None and not args.eyes_closed:
        outside = len(repo.list_photos(engine, model_key=model_key, model=settings.model))
        if outside:  # `score` caches photos without adding their folders to the library
            print(f"{count(outside, 'photo')} {'is' if outside == 1 else 'are'} cached outside the library folders: `aesthete list FOLDER` shows "
                  "them, `aesthete scan FOLDER` adds a folder to the library", file=sys.stderr)
    return EXIT_OK


def cmd_disagree(args, settings) -> int:
    engine = open_library(args)
    if args.folder is not None and os.path.isfile(args.folder):
        raise AestheteError(f"{args.folder} is a file: `aesthete disagree` takes a folder")
    if not 0 <= args.min_gap <= 1:
        raise AestheteError(f"--min-gap takes a rank gap from 0 to 1, not {args.min_gap}")
    found = secondlook.disagreement(engine, os.path.abspath(args.folder) if args.folder else None, args.min_gap)
    shown = found[:args.limit] if args.limit > 0 else found
    first, second = models.V2_5.name, models.LAION_V2.name
    for d in shown:
        if args.json:
            print(json.dumps({"path": d.path, "gap": round(d.gap, 4),
                              "scores": {m: round(s, 4) for m, s in d.scores.items()},
                              "ranks": {m: round(r, 4) for m, r in d.ranks.items()}}))
        else:
            print(f"{d.gap:5.2f}  {first} {d.scores[first]:5.2f} (percentile {100 * d.ranks[first]:3.0f})  "
                  f"{second} {d.scores[second]:5.2f} (percentile {100 * d.ranks[second]:3.0f})  {printable(d.path)}")
    print(count(len(shown), "photo") + f" where the two models disagree by a rank gap of {args.min_gap:g} or more",
          file=sys.stderr)
    if not found and not secondlook.disagreement(engine, os.path.abspath(args.folder) if args.folder else None):
        print(f"no photo here has both scores: `aesthete scan --model {second}` adds the second one", file=sys.stderr)
    return EXIT_OK


def _taste_values(engine, settings) -> dict[int, float]:
    """Each photo's taste (0 to 1) under the learned taste model; empty when none was learned."""
    from app import finding

    model = finding.load_taste()
    if model is None:
        return {}
    return finding.taste_of(finding.Finder(engine, settings), model).match_of()


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
            print(f"added {printable(root.path)}; run `aesthete scan` to score it", file=sys.stderr)
            if absorbed:
                print("  it takes in the library folders " + ", ".join(map(printable, absorbed)), file=sys.stderr)
    elif action == "remove":
        for folder in args.folders:
            removed = repo.remove_root(engine, folder)
            if removed is None:
                raise AestheteError(f"{folder} is not a library root (see `aesthete roots list`)")
            print(f"removed {printable(os.path.abspath(folder))} from the library ({count(removed, 'photo')}; "
                  "the files were not touched). Their scores and marks stay cached: adding the folder, or "
                  "a folder inside it, again brings them back.", file=sys.stderr)
    elif action == "list":
        for root in repo.list_roots(engine):
            state = "" if root.online else "  (offline)"
            print(f"{root.photo_count:8d}  {printable(root.path)}{state}")
    elif action == "move":
        if not args.new.is_dir():
            raise AestheteError(f"{args.new} is not a folder")
        try:
            moved = repo.move_root(engine, args.old, args.new)
        except KeyError:
            raise AestheteError(f"{args.old} is not a library root (see `aesthete roots list`)") from None
        except ValueError as exc:
            raise AestheteError(str(exc)) from None
        print(f"the library's record{'' if moved == 1 else 's'} of {count(moved, 'photo')} now "
              f"point{'s' if moved == 1 else ''} to {printable(os.path.abspath(args.new))} (no files were moved); "
              "scores and marks kept", file=sys.stderr)
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
