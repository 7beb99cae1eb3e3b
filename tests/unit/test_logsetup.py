"""The log file: a crash inside a native library leaves its Python traceback there."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import python_path

CRASH = """
import faulthandler, logging, sys
from app import logsetup

def decode_untrusted_file():
    faulthandler._sigsegv()  # what a crash inside LibRaw or libheif looks like to Python

logsetup.setup()
logging.getLogger("app.test").info("before the crash")
if sys.argv[1] == "rolled":
    next(h for h in logging.getLogger().handlers if hasattr(h, "doRollover")).doRollover()
decode_untrusted_file()
"""


@pytest.mark.parametrize("when", ["fresh", "rolled"])
def test_a_native_crash_leaves_its_traceback_in_the_log_file(tmp_path, when):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONFAULTHANDLER"}
    env.update(AESTHETE_HOME=str(tmp_path), PYTHONPATH=python_path())
    res = subprocess.run([sys.executable, "-c", CRASH, when], env=env, capture_output=True, timeout=60)
    assert res.returncode != 0
    log = (tmp_path / "state" / "aesthete.log").read_text(encoding="utf-8", errors="replace")
    assert "Fatal Python error: Segmentation fault" in log
    assert "decode_untrusted_file" in log  # the Python frames, so the photo's loader can be found
    if when == "rolled":  # after a rollover the trace goes to the new file, not the renamed one
        assert "before the crash" in (tmp_path / "state" / "aesthete.log.1").read_text(encoding="utf-8")
