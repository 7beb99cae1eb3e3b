"""The import contracts of pyproject.toml ([tool.importlinter]) hold, and break on a forbidden import."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(folder: Path) -> subprocess.CompletedProcess:
    """`lint-imports` in `folder`, with the interpreter running the tests (its entry point may not be on PATH)."""
    run = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", run, "--no-cache", "--no-logo"], cwd=folder,
                          capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def test_a_forbidden_import_breaks_its_contract(tmp_path):
    """The same contracts over a copy of app/ in which storage imports the core and the core imports Qt."""
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for module, line in (("storage/marks.py", "from app.core import ratings"),
                         ("core/formats.py", "from PySide6.QtCore import QObject")):
        path = tmp_path / "app" / module
        path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 kept, 2 broken" in result.stdout
    assert "app.storage.marks -> app.core.ratings" in result.stdout
    assert "app.core.formats -> PySide6" in result.stdout


MAX_LINES = 700  # a module a maintainer reads in one sitting (STYLE.md); split by job before it grows past


def test_no_module_of_the_app_is_over_700_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "app").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"split these by job: {long}"
