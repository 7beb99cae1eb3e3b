"""Commands that find photos: by words (search) and by example (similar)."""
from __future__ import annotations

import json
import os
import sys

from app.cli.common import EXIT_OK, count, open_library, printable
from app.errors import AestheteError
from app.storage import repo
from app.storage.query import PhotoQuery


def _print_hits(args, engine, ranking, query: PhotoQuery) -> None:
    """Each photo the query keeps, in the ranking's order, with its match and score."""
    matches = ranking.match_of()
    photos = repo.list_photos(engine, query=query.with_(ranking=tuple(ranking.ids.tolist())), limit=args.limit)
    for p in photos:
        match = matches[p.id]
        if args.json:
            print(json.dumps({"path": p.path, "match": round(match, 4),
                              "score": None if p.score is None else round(p.score, 4)}))
        else:
            score = f"{p.score:6.2f}" if p.score is not None else "     -"
            print(f"{match:8.3f}  {score}  {printable(p.path)}")
    print(count(len(photos), "photo"), file=sys.stderr)


def _folder_query(folder) -> PhotoQuery:
    if folder is None:
        return PhotoQuery(library_only=True)
    if os.path.isfile(folder):
        raise AestheteError(f"{folder} is a file: give a folder to search in")
    return PhotoQuery(under=os.path.abspath(folder), library_only=False)


def cmd_search(args, settings) -> int:
    from app.finding import Finder

    if args.limit is not None and args.limit < 1:
        raise AestheteError("--limit must be 1 or more")
    engine = open_library(args)
    query = _folder_query(args.folder)
    finder = Finder(engine, settings)  # from this computer only (`aesthete download` fetches)
    ranking = finder.search(args.text, on_status=lambda text: print(f"{text}…", file=sys.stderr, flush=True))
    if not len(ranking):
        print("no photo has an embedding of this model yet: scan or score some first", file=sys.stderr)
    _print_hits(args, engine, ranking, query)
    return EXIT_OK


def cmd_similar(args, settings) -> int:
    from app.finding import Finder

    if args.limit is not None and args.limit < 1:
        raise AestheteError("--limit must be 1 or more")
    engine = open_library(args)
    path = os.path.abspath(args.photo)
    found = repo.list_photos(engine, paths=[path], library_only=False)
    if not found:
        raise AestheteError(f"{args.photo} is not in the library's cache: score or scan it first")
    ranking = Finder(engine, settings).similar(found[0].id)
    # The library's photos; a photo scored outside the library is compared with every cached one.
    in_library = bool(repo.list_photos(engine, paths=[path], library_only=True))
    _print_hits(args, engine, ranking, PhotoQuery(library_only=in_library))
    return EXIT_OK


def cmd_taste(args, settings) -> int:
    """Learn the taste model from the marks now (or export, import, reset it) and say how well it does."""
    from app import finding

    if args.reset:
        print("the taste model was forgotten" if finding.reset_taste() else "there was no taste model to forget",
              file=sys.stderr)
        return EXIT_OK
    if args.export_to is not None:
        finding.export_taste(args.export_to)
        print(f"the taste model was written to {printable(str(args.export_to))}", file=sys.stderr)
        return EXIT_OK
    if args.import_from is not None:
        model = finding.import_taste(args.import_from)
    else:
        engine = open_library(args)
        model = finding.learn_taste(finding.Finder(engine, settings))
    a = model.agreement
    if args.json:
        print(json.dumps({"taste_agreement": round(a.taste, 4),
                          "score_agreement": None if a.score is None else round(a.score, 4),
                          "marks": a.marks, "kept": model.kept, "rejected": model.dropped,
                          "beats_score": model.beats_score}))
    else:
        print(model.summary())
    return EXIT_OK
