"""Write the app icon files in resources/ from app/ui/art.py (the one source of the drawing).

Run from the repository root: python packaging/make_icons.py
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

APP_ID = "io.github.aesthete.Aesthete"


def main() -> None:
    from PySide6.QtGui import QGuiApplication

    from app.ui import art

    _app = QGuiApplication.instance() or QGuiApplication([])
    icons = ROOT / "resources" / "icons"
    icons.mkdir(parents=True, exist_ok=True)
    (icons / f"{APP_ID}.svg").write_text(art.ICON_SVG)
    for size in (64, 128, 256, 512):
        art.render(size).save(str(icons / f"{APP_ID}-{size}.png"))
    # Windows and macOS bundles take one multi-size file each; PyInstaller converts the PNG.
    art.render(256).save(str(icons / f"{APP_ID}.png"))
    print("wrote", ", ".join(sorted(p.name for p in icons.iterdir())))


if __name__ == "__main__":
    main()
