"""The command line's options: the settings every command takes come from the registry."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from app.config import settings as settings_mod
from app.errors import AestheteError


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
        if setting.metavar:
            extra.update(metavar=setting.metavar)
        g.add_argument(setting.option, help=setting.flag, **extra, **d)
    g.add_argument("--debug", action="store_true", help="log to the terminal, with tracebacks", **d)


def rejects_default(argv: Sequence[str]) -> str:
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
    p.add_argument("--eyes-closed", action="store_true",
                   help="only photos where someone's eyes are closed (needs face checks)")
    p.add_argument("--json", action="store_true")

    p = add("disagree", "photos whose V2.5 and LAION V2 scores rank far apart, most disagreement first "
                        "(never loads a model)",
            epilog="Ranks are compared, not raw scores: a gap of 0.5 means half the photos compared lie between "
                   "the photo's place by one model and its place by the other. Only photos scored by both models "
                   "count (`aesthete scan --model laion-v2` adds the second score).")
    p.add_argument("folder", nargs="?", type=Path, metavar="FOLDER")
    p.add_argument("--min-gap", type=float, default=0.3, metavar="G",
                   help="only rank gaps of at least G, 0 to 1 (default 0.3)")
    p.add_argument("--limit", type=int, default=0, metavar="N", help="at most N photos (0: all)")
    p.add_argument("--json", action="store_true", help="one JSON object per photo on stdout")

    p = add("search", "find photos by words (SigLIP's text tower; best match first)")
    p.add_argument("text", metavar="TEXT", help='what the photos show, e.g. "kids on the beach at sunset"')
    p.add_argument("folder", nargs="?", type=Path, metavar="FOLDER", help="only photos under this folder")
    p.add_argument("--limit", type=int, metavar="N", help="the N best matches only (default: every photo)")
    p.add_argument("--json", action="store_true", help='one JSON object per photo: {"path", "match", "score"}')

    p = add("similar", "photos that look like PHOTO, nearest first (the photo itself first)")
    p.add_argument("photo", type=Path, metavar="PHOTO")
    p.add_argument("--limit", type=int, metavar="N", help="the N nearest only (default: every photo)")
    p.add_argument("--json", action="store_true", help='one JSON object per photo: {"path", "match", "score"}')

    p = add("taste", "learn your taste from your marks (stars, picks, rejects) and say how well it agrees with them",
            epilog="It needs 30 marked photos of each kind: kept (picks, 4-5 stars) and rejected (rejects, 1-2 stars). "
                   "`list --json` then gives each photo's taste (0 to 1), and best picks use it to break ties while "
                   "it agrees with your held-out marks more often than the aesthetic score does.")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--export", type=Path, dest="export_to", metavar="FILE", help="write the taste model to FILE")
    what.add_argument("--import", type=Path, dest="import_from", metavar="FILE", help="use the taste model in FILE")
    what.add_argument("--reset", action="store_true", help="forget the learned taste")
    p.add_argument("--json", action="store_true", help="the agreements as one JSON object")

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

    add("download", "download the weights of the model --model chose into the cache (needs the internet)")

    p = add("best", "group bursts and near-duplicates under FOLDER and pick the keeper of each")
    p.add_argument("folder", type=Path, metavar="FOLDER")
    p.add_argument("--json", action="store_true", help="one JSON object per group on stdout")

    p = add("cull", "list cull candidates under FOLDER and move them away (never deletes)",
            epilog="rules: score (below the threshold), blur (out of focus, motion blur), exposure (nearly black or "
                   "white, highlights lost), extra (not the pick of its burst or similar shots), copy (an exact copy), "
                   "eyes (closed eyes, in a frame of a group that is not its pick; never a lone photo). "
                   "A group's pick is only ever taken by the score rule or your reject. With neither --rules nor "
                   "--below the cull_rules setting applies (all six unless changed); --below X alone means the "
                   "score rule only.")
    p.add_argument("folder", type=Path, metavar="FOLDER")
    p.add_argument("--rules", metavar="RULE[,RULE...]",
                   help="exactly these rules: score, blur, exposure, extra, copy, eyes")
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
