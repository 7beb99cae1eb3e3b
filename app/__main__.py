"""Entry point for `python -m app` and the `aesthete` console script."""
from __future__ import annotations

import sys


def main() -> int:
    from app.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
