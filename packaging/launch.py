"""Entry point of the bundled app: the same command line as `aesthete` (no arguments: the GUI)."""
import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from app.__main__ import main

    sys.exit(main())
