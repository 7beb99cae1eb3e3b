"""Entry point for `python -m app` and the `aesthete` console script."""
from __future__ import annotations

import sys


CONVERT_FLAG = "--convert-onnx-encoder"  # internal: a bundled app runs the conversion child through itself


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == CONVERT_FLAG:
        from app.core.onnx_engine import _main as convert_main

        return convert_main(sys.argv[2:])
    from app.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
