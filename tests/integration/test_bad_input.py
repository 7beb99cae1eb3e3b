"""Every kind of bad or odd file: scored correctly, or recorded with a clear reason; the run goes on."""
import hashlib
import os

import numpy as np
import pytest
from PIL import Image

from app import library
from app.library import ModelHolder, analyse, scan_folders
from app.storage import db, repo
from tests.conftest import scene


def _digest(folder):
    out = {}
    for dirpath, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(dirpath, f)
            if os.path.isfile(p) and os.access(p, os.R_OK):
                out[p] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


@pytest.fixture
def zoo(tmp_path):
    """A folder of awkward files, and what we expect for each: 'ok' or a reason fragment."""
    d = tmp_path / "zoo"
    d.mkdir()
    expect = {}
    good = scene(1)

    def put(name, want, writer):
        writer(d / name)
        expect[name] = want

    put("good.jpg", "ok", lambda p: good.save(p))
    put("zero.jpg", "empty file", lambda p: p.write_bytes(b""))
    data = (d / "good.jpg").read_bytes()
    put("truncated.jpg", "truncated", lambda p: p.write_bytes(data[: len(data) // 2]))
    put("garbage.jpg", "not a readable JPG", lambda p: p.write_bytes(os.urandom(5000)))
    put("cmyk.jpg", "ok", lambda p: good.convert("CMYK").save(p))
    put("deep16.png", "ok", lambda p: Image.fromarray((np.arange(256 * 200, dtype=np.uint16).reshape(200, 256) * 1)).save(p))
    put("grey_i16.tif", "ok", lambda p: Image.fromarray(np.full((120, 160), 40000, np.uint16)).save(p))
    put("palette.png", "ok", lambda p: good.convert("P").save(p))
    put("la.png", "ok", lambda p: good.convert("LA").save(p))
    put("rgba.webp", "ok", lambda p: good.convert("RGBA").save(p))
    put("bitmap.bmp", "ok", lambda p: good.save(p))
    put("anim.gif", "ok", lambda p: good.convert("P").save(p, save_all=True, append_images=[scene(2).convert("P")]))
    put("float.tif", "ok", lambda p: Image.fromarray(np.linspace(0, 1, 120 * 160, dtype=np.float32).reshape(120, 160)).save(p))
    put("real.heic", "ok", lambda p: good.save(p, format="HEIF"))
    put("real.avif", "ok", lambda p: good.save(p, format="AVIF"))
    put("lzw.tif", "ok", lambda p: Image.fromarray(np.full((60, 80, 3), 200, np.uint8)).save(p, compression="tiff_lzw"))
    put("heic_fake.heic", "not a readable HEIC", lambda p: p.write_bytes(b"\x00\x00\x00\x18ftypheic" + os.urandom(100)))
    put("vector.svg", "not photos", lambda p: p.write_text("<svg/>"))
    put("photo.jxl", "JPEG XL", lambda p: p.write_bytes(b"\xff\x0a" + os.urandom(64)))
    put("bomb.png", "too large", lambda p: Image.new("1", (20000, 20000)).save(p))
    put("broken_link.jpg", "broken symbolic link", lambda p: os.symlink(d / "nowhere.jpg", p))
    put("loop.jpg", "symbolic link loop", lambda p: os.symlink(p, p))
    name = os.fsdecode(b"caf\xe9-latin1.jpg")  # not valid UTF-8
    put(name, "ok", lambda p: good.save(p))
    if os.geteuid() != 0:  # root reads anything
        def unreadable(p):
            good.save(p)
            os.chmod(p, 0)
        put("locked.jpg", "permission denied", unreadable)
    (d / "clip.mp4").write_bytes(b"\x00" * 100)   # not photos: passed over quietly
    (d / "IMG_0001.AAE").write_text("<plist/>")
    (d / "notes.txt").write_text("hello")
    (d / "good.jpg.xmp").write_text("<x:xmpmeta/>")
    loop_dir = d / "sub"
    loop_dir.mkdir()
    os.symlink(d, loop_dir / "back")  # a folder link loop must not hang the scan
    return d, expect


def test_every_bad_input_is_scored_or_explained(zoo, model_settings, tmp_path):
    folder, expect = zoo
    before = _digest(folder)
    engine = db.open_db(tmp_path / "lib.sqlite3")
    summary = scan_folders(engine, model_settings, [folder])
    assert summary.skipped_other == 3  # mp4, AAE, txt (the .xmp sidecar is not counted)
    holder = ModelHolder(model_settings)
    items = library.pending(engine, holder)
    result = analyse(engine, holder, items, batch_size=3)
    rows = {os.path.basename(p.path): p for p in repo.list_photos(engine, sort="name")}
    assert set(rows) == set(expect), set(rows) ^ set(expect)
    for name, want in expect.items():
        photo = rows[name]
        if want == "ok":
            assert photo.score is not None and photo.error is None, (name, photo.error)
            assert 0 < photo.width and 0 < photo.height
        else:
            assert photo.score is None and want in photo.error, (name, photo.error)
            assert "\n" not in photo.error
    ok = sum(1 for w in expect.values() if w == "ok")
    assert result.scored == ok
    assert _digest(folder) == before  # nothing was written to the user's files


def test_vanished_between_scan_and_score(model_settings, tmp_path):
    folder = tmp_path / "v"
    folder.mkdir()
    for i in range(3):
        scene(i).save(folder / f"{i}.jpg")
    engine = db.open_db(tmp_path / "lib.sqlite3")
    scan_folders(engine, model_settings, [folder])
    os.remove(folder / "1.jpg")
    holder = ModelHolder(model_settings)
    result = analyse(engine, holder, library.pending(engine, holder))
    assert (result.scored, result.failed) == (2, 1)
    # Not a failure of the photo: it is missing, and analysed again when it is back.
    vanished = next(p for p in repo.list_photos(engine, include_missing=True) if p.path.endswith("1.jpg"))
    assert vanished.state == "missing" and not vanished.error


def test_only_bad_files_never_load_the_model(tmp_path, monkeypatch):
    from app.config import settings

    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"")
    engine = db.open_db(tmp_path / "lib.sqlite3")
    s = settings.load(overrides={"encoder": str(tmp_path / "no-model"), "head": str(tmp_path / "x.pth")})
    scan_folders(engine, s, [folder])
    holder = ModelHolder(s)
    items = [repo.Pending(p.id, p.path) for p in repo.list_photos(engine)]
    result = analyse(engine, holder, items)
    assert result.failed == 1 and holder.loaded is None
