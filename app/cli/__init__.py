"""The `aesthete` command line: score, scan, list and manage the library (no Qt). One module per
group of commands (scoring, curating, folders), the options in parser, what they share in common."""
from __future__ import annotations

import logging
import os
import sys
from typing import Sequence

from app import logsetup
from app.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_SETUP, load_settings
from app.cli.curating import cmd_best, cmd_cull, cmd_export, cmd_mark, cmd_undo
from app.cli.finding import cmd_search, cmd_similar, cmd_taste
from app.cli.folders import cmd_disagree, cmd_gui, cmd_list, cmd_roots, cmd_settings
from app.cli.parser import build_parser, rejects_default
from app.cli.scoring import cmd_download, cmd_scan, cmd_score
from app.config import paths, settings as settings_mod
from app.errors import AestheteError, PhotoError

log = logging.getLogger(__name__)


COMMANDS = {"score": cmd_score, "scan": cmd_scan, "list": cmd_list, "roots": cmd_roots,
            "download": cmd_download, "settings": cmd_settings, "gui": cmd_gui, "best": cmd_best,
            "cull": cmd_cull, "undo": cmd_undo, "export": cmd_export, "mark": cmd_mark,
            "disagree": cmd_disagree, "search": cmd_search, "similar": cmd_similar, "taste": cmd_taste}


# Options that take a value (the next word is not a folder): the settings every command takes, and two more.
VALUE_OPTIONS = {"--db", "--config"} | {settings_mod.REGISTRY[name].option for name in settings_mod.FLAG_SETTINGS}


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
    parser = build_parser(rejects_default(argv) if "-h" in argv or "--help" in argv else "")
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
