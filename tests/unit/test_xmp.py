"""Tests for XMP sidecars: ratings and flags round-trip, and nothing else in the file is lost."""

import hashlib
import io
import logging
import os
import stat
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from app.core import xmp
from app.core.xmp import (
    SidecarError,
    read_embedded_rating,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

DARKTABLE_SIDECAR = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:darktable="http://darktable.sf.net/"
    xmp:Rating="2"
    darktable:xmp_version="5"
    darktable:history_end="1">
   <!-- kept as is -->
   <dc:subject>
    <rdf:Bag>
     <rdf:li>wedding</rdf:li>
     <rdf:li>Anna &amp; Tom</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <darktable:history>
    <rdf:Seq>
     <rdf:li darktable:operation="exposure" darktable:enabled="1" darktable:params="0000a0c0"/>
    </rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

ELEMENT_FORM_SIDECAR = """<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
   <xmp:Rating>4</xmp:Rating>
   <xmp:Label>Green</xmp:Label>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

PACKET = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="{rating}"/>\n'
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n"
    + " " * 200
    + '\n<?xpacket end="w"?>'
)


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "IMG_0001.JPG"
    Image.new("RGB", (8, 8), "red").save(path, "JPEG")
    return path


def description_attrs(sidecar):
    root = ET.parse(sidecar).getroot()
    return root.find(f".//{{{xmp.NS_RDF}}}Description").attrib


def test_round_trip_creates_darktable_style_sidecar(photo):
    before = sha(photo)
    written = write_sidecar(photo, rating=3, reject=False, pick=True)
    assert written == photo.with_name("IMG_0001.JPG.xmp")
    info = read_sidecar(photo)
    assert (info.rating, info.pick, info.rejected) == (3, True, False)
    assert sha(photo) == before


def test_reject_is_rating_minus_one(photo):
    write_sidecar(photo, rating=4, reject=True, pick=False)
    info = read_sidecar(photo)
    assert info.rating == -1 and info.rejected
    assert info.pick is None
    assert description_attrs(sidecar_path(photo))[f"{{{xmp.NS_XMP}}}Rating"] == "-1"


def test_unrated_removes_the_rating(photo):
    write_sidecar(photo, rating=2, reject=False, pick=False)
    write_sidecar(photo, rating=None, reject=False, pick=False)
    assert read_sidecar(photo).rating is None


def test_no_sidecar_reads_as_none(photo):
    assert read_sidecar(photo) is None


def test_update_keeps_other_fields_and_prefixes(photo):
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_text(DARKTABLE_SIDECAR, encoding="utf-8")

    write_sidecar(photo, rating=5, reject=False, pick=True)

    text = sidecar.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<x:xmpmeta')
    for kept in (
        'x:xmptk="XMP Core 4.4.0-Exiv2"',
        'darktable:xmp_version="5"',
        "<dc:subject>",
        "<rdf:li>Anna &amp; Tom</rdf:li>",
        'darktable:params="0000a0c0"',
        "<!-- kept as is -->",
        'xmp:Rating="5"',
        'aesthete:Pick="True"',
    ):
        assert kept in text
    assert "ns0" not in text and 'xmp:Rating="2"' not in text
    info = read_sidecar(photo)
    assert (info.rating, info.pick) == (5, True)
    root = ET.fromstring(text)
    subjects = [li.text for li in root.iter(f"{{{xmp.NS_RDF}}}li") if li.text]
    assert subjects == ["wedding", "Anna & Tom"]
    darktable = "{http://darktable.sf.net/}"
    step = next(root.iter(f"{darktable}history")).find(f".//{{{xmp.NS_RDF}}}li")
    assert step.attrib == {
        f"{darktable}operation": "exposure",
        f"{darktable}enabled": "1",
        f"{darktable}params": "0000a0c0",
    }


def test_update_keeps_xpacket_wrapper(photo):
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_text(PACKET.format(rating=1), encoding="utf-8")
    write_sidecar(photo, rating=3, reject=False, pick=False)
    text = sidecar.read_text(encoding="utf-8")
    assert text.startswith('<?xpacket begin="\ufeff"')
    assert text.endswith('<?xpacket end="w"?>')
    assert read_sidecar(photo).rating == 3


def test_element_form_is_read_and_updated_in_place(photo):
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_text(ELEMENT_FORM_SIDECAR, encoding="utf-8")
    info = read_sidecar(photo)
    assert (info.rating, info.label) == (4, "Green")

    write_sidecar(photo, rating=1, reject=False, pick=False)
    text = sidecar.read_text(encoding="utf-8")
    assert "<xmp:Rating>1</xmp:Rating>" in text
    assert "xmp:Rating=" not in text  # not duplicated as an attribute
    assert read_sidecar(photo).label == "Green"


def test_lightroom_style_name_is_preferred_when_it_exists(photo):
    short = photo.with_name("IMG_0001.XMP")
    short.write_text(ELEMENT_FORM_SIDECAR, encoding="utf-8")
    assert sidecar_path(photo) == short
    assert write_sidecar(photo, rating=2, reject=False, pick=False) == short
    assert not photo.with_name("IMG_0001.JPG.xmp").exists()
    assert read_sidecar(photo).rating == 2


def test_full_name_wins_over_lightroom_name(photo):
    photo.with_name("IMG_0001.xmp").write_text(ELEMENT_FORM_SIDECAR, encoding="utf-8")
    full = photo.with_name("IMG_0001.JPG.xmp")
    full.write_text(DARKTABLE_SIDECAR, encoding="utf-8")
    assert sidecar_path(photo) == full


def test_a_photo_is_never_its_own_sidecar(tmp_path):
    odd = tmp_path / "scan.xmp"
    odd.write_bytes(b"not really a photo")
    assert sidecar_path(odd) == tmp_path / "scan.xmp.xmp"
    write_sidecar(odd, rating=1, reject=False, pick=False)
    assert odd.read_bytes() == b"not really a photo"


def test_garbage_sidecar_reads_as_none_and_is_never_overwritten(photo, caplog):
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_bytes(b"<x:xmpmeta><unclosed>\x00\xff")
    with caplog.at_level(logging.WARNING, logger="app.core.xmp"):
        assert read_sidecar(photo) is None
    assert "unreadable sidecar" in caplog.text
    with pytest.raises(SidecarError):
        write_sidecar(photo, rating=3, reject=False, pick=False)
    assert sidecar.read_bytes() == b"<x:xmpmeta><unclosed>\x00\xff"


def test_well_formed_but_not_xmp_is_refused(photo):
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_text("<html><body/></html>", encoding="utf-8")
    assert read_sidecar(photo) is None
    with pytest.raises(SidecarError):
        write_sidecar(photo, rating=3, reject=False, pick=False)


def test_bridge_good_flag_reads_as_pick_and_can_be_cleared(photo):
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmpDM="http://ns.adobe.com/xmp/1.0/DynamicMedia/" xmpDM:good="True"/>'
        "</rdf:RDF></x:xmpmeta>",
        encoding="utf-8",
    )
    assert read_sidecar(photo).pick is True
    write_sidecar(photo, rating=None, reject=False, pick=False)
    assert read_sidecar(photo).pick is False
    assert 'xmpDM:good="True"' in sidecar.read_text(encoding="utf-8")  # Bridge's own field untouched


def test_invalid_marks_write_nothing(photo):
    with pytest.raises(ValueError):
        write_sidecar(photo, rating=7, reject=False, pick=False)
    with pytest.raises(ValueError):
        write_sidecar(photo, rating=1, reject=True, pick=True)
    assert list(photo.parent.iterdir()) == [photo]


def test_write_leaves_no_temporary_files(photo):
    write_sidecar(photo, rating=1, reject=False, pick=False)
    write_sidecar(photo, rating=2, reject=False, pick=False)
    assert sorted(p.name for p in photo.parent.iterdir()) == ["IMG_0001.JPG", "IMG_0001.JPG.xmp"]


def test_embedded_xmp_rating(tmp_path):
    path = tmp_path / "rated.jpg"
    Image.new("RGB", (8, 8)).save(path, "JPEG", xmp=PACKET.format(rating=4).encode("utf-8"))
    before = sha(path)
    assert read_embedded_rating(path) == 4
    assert sha(path) == before


def test_embedded_exif_rating(tmp_path):
    path = tmp_path / "exif.jpg"
    exif = Image.Exif()
    exif[0x4746] = 3
    Image.new("RGB", (8, 8)).save(path, "JPEG", exif=exif)
    assert read_embedded_rating(path) == 3


def test_embedded_xmp_wins_over_exif(tmp_path):
    path = tmp_path / "both.jpg"
    exif = Image.Exif()
    exif[0x4746] = 1
    Image.new("RGB", (8, 8)).save(path, "JPEG", exif=exif, xmp=PACKET.format(rating=5).encode("utf-8"))
    assert read_embedded_rating(path) == 5


def test_no_embedded_rating(tmp_path, photo):
    assert read_embedded_rating(photo) is None
    raw = tmp_path / "IMG_0002.CR2"
    raw.write_bytes(b"II*\x00" + bytes(64))
    assert read_embedded_rating(raw) is None
    assert read_embedded_rating(tmp_path / "missing.jpg") is None


def test_damaged_embedded_packet_falls_back_quietly(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG", xmp=b"<x:xmpmeta><oops></x:xmpmeta>")
    path = tmp_path / "damaged.jpg"
    path.write_bytes(buffer.getvalue())
    assert read_embedded_rating(path) is None


# --- hostile sidecars: links, odd files, huge files, long names, absurd nesting ------------------

# A child interpreter runs the reads that, when broken, never end (a FIFO) or eat all memory
# (/dev/zero): it is stopped after a while and may not take more than 1 GiB.
_CHILD_LIMIT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from pathlib import Path
from app.core import xmp
photo = Path(sys.argv[1])
print("read", xmp.read_sidecar(photo))
try:
    xmp.write_sidecar(photo, 3, False, False)
    print("written")
except xmp.SidecarError as error:
    print("refused", error)
"""


def _in_child(photo, timeout=30):
    import subprocess
    import sys

    from tests.conftest import python_path

    env = {**os.environ, "PYTHONPATH": python_path()}
    try:
        res = subprocess.run([sys.executable, "-c", _CHILD_LIMIT, str(photo)], capture_output=True,
                             timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading or writing the sidecar of {photo.name} did not end")
    assert res.returncode == 0, res.stderr.decode()[-2000:]
    return res.stdout.decode()


def test_a_linked_sidecar_is_written_through_the_link(photo, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    kept = store / "kept.xmp"
    kept.write_text(PACKET.format(rating=1), encoding="utf-8")
    os.chmod(kept, 0o640)
    link = photo.with_name(photo.name + ".xmp")
    os.symlink("store/kept.xmp", link)  # relative, as links in a library usually are
    before = sha(photo)
    assert read_sidecar(photo).rating == 1

    assert write_sidecar(photo, rating=4, reject=False, pick=True) == link

    assert link.is_symlink() and os.readlink(link) == "store/kept.xmp"
    assert read_sidecar(photo).rating == 4 and read_sidecar(photo).pick is True
    assert 'xmp:Rating="4"' in kept.read_text(encoding="utf-8")
    assert kept.stat().st_mode & 0o777 == 0o640
    assert sha(photo) == before
    assert sorted(p.name for p in photo.parent.iterdir()) == ["IMG_0001.JPG", "IMG_0001.JPG.xmp", "store"]
    assert [p.name for p in store.iterdir()] == ["kept.xmp"]  # no temporary file left beside the target


def test_a_link_to_a_link_is_written_at_the_end_of_the_chain(photo, tmp_path):
    final = tmp_path / "final.xmp"
    final.write_text(PACKET.format(rating=2), encoding="utf-8")
    middle = tmp_path / "middle.xmp"
    os.symlink(final, middle)
    os.symlink(middle, photo.with_name(photo.name + ".xmp"))
    write_sidecar(photo, rating=5, reject=False, pick=False)
    assert middle.is_symlink() and photo.with_name(photo.name + ".xmp").is_symlink()
    assert read_sidecar(photo).rating == 5 and 'xmp:Rating="5"' in final.read_text(encoding="utf-8")


def test_a_broken_sidecar_link_is_refused_and_left_alone(photo, tmp_path):
    link = photo.with_name(photo.name + ".xmp")
    os.symlink(tmp_path / "gone" / "nothing.xmp", link)
    assert read_sidecar(photo) is None
    with pytest.raises(SidecarError, match="link"):
        write_sidecar(photo, rating=3, reject=False, pick=False)
    assert link.is_symlink() and os.readlink(link) == str(tmp_path / "gone" / "nothing.xmp")
    assert not (tmp_path / "gone").exists()


def test_a_sidecar_linked_to_dev_zero_is_refused_without_reading_it(photo):
    os.symlink("/dev/zero", photo.with_name(photo.name + ".xmp"))
    out = _in_child(photo)
    assert "read None" in out
    assert "refused" in out and "not a regular file" in out
    assert os.readlink(photo.with_name(photo.name + ".xmp")) == "/dev/zero"


def test_a_fifo_sidecar_neither_blocks_nor_is_replaced(photo):
    fifo = photo.with_name(photo.name + ".xmp")
    os.mkfifo(fifo)
    out = _in_child(photo, timeout=20)
    assert "read None" in out
    assert "refused" in out and "not a regular file" in out
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_an_oversized_sidecar_is_refused_and_never_overwritten(photo, caplog):
    sidecar = photo.with_name(photo.name + ".xmp")
    huge = PACKET.format(rating=2).replace(" " * 200, " " * (xmp.MAX_SIDECAR_BYTES + 1))
    sidecar.write_text(huge, encoding="utf-8")
    before = sha(sidecar)
    with caplog.at_level(logging.WARNING, logger="app.core.xmp"):
        assert read_sidecar(photo) is None
    assert "too large" in caplog.text
    with pytest.raises(SidecarError, match="too large"):
        write_sidecar(photo, rating=3, reject=False, pick=False)
    assert sha(sidecar) == before


def test_a_sidecar_at_the_limit_is_still_read(photo):
    sidecar = photo.with_name(photo.name + ".xmp")
    text = PACKET.format(rating=2)
    sidecar.write_text(text.replace(" " * 200, " " * (xmp.MAX_SIDECAR_BYTES - len(text.encode()) + 200)),
                       encoding="utf-8")
    assert sidecar.stat().st_size == xmp.MAX_SIDECAR_BYTES
    assert read_sidecar(photo).rating == 2


def test_a_name_too_long_for_any_sidecar_reads_as_none_and_writes_a_clear_refusal(tmp_path):
    photo = tmp_path / ("n" * 251 + ".jpg")  # 255 bytes: NAME.xmp cannot exist
    Image.new("RGB", (8, 8), "red").save(photo, "JPEG")
    before = sha(photo)
    assert read_sidecar(photo) is None
    with pytest.raises(SidecarError, match="the file name is too long for a sidecar beside it"):
        write_sidecar(photo, rating=3, reject=False, pick=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [photo.name]
    assert sha(photo) == before


def test_a_long_name_gets_its_sidecar_through_a_short_temporary_name(tmp_path):
    photo = tmp_path / ("n" * 246 + ".jpg")  # 250 bytes: NAME.xmp is 254, the old temporary name was 270
    Image.new("RGB", (8, 8), "red").save(photo, "JPEG")
    assert write_sidecar(photo, rating=3, reject=False, pick=False) == tmp_path / (photo.name + ".xmp")
    assert read_sidecar(photo).rating == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [photo.name, photo.name + ".xmp"]


def _deep_sidecar(depth):
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="2">'
            + "<a>" * depth + "</a>" * depth + "</rdf:Description></rdf:RDF></x:xmpmeta>")


def test_absurd_nesting_is_refused_by_the_parser(photo, caplog):
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_text(_deep_sidecar(200_000), encoding="utf-8")
    before = sha(sidecar)
    with caplog.at_level(logging.WARNING, logger="app.core.xmp"):
        assert read_sidecar(photo) is None
    assert "nested too deeply" in caplog.text
    with pytest.raises(SidecarError, match="nested too deeply"):
        write_sidecar(photo, rating=3, reject=False, pick=False)
    assert sha(sidecar) == before


def test_reasonable_nesting_still_round_trips(photo):
    sidecar = photo.with_name(photo.name + ".xmp")
    sidecar.write_text(_deep_sidecar(50), encoding="utf-8")
    write_sidecar(photo, rating=4, reject=False, pick=False)
    assert read_sidecar(photo).rating == 4
    assert "<a>" * 49 + "<a/>" + "</a>" * 49 in sidecar.read_text(encoding="utf-8")


def test_the_serializer_does_not_recurse():
    doc = xmp._parse(_deep_sidecar(1).encode())
    parent = doc.root.find(f".//{{{xmp.NS_RDF}}}Description")
    for _ in range(20_000):  # deeper than Python's recursion limit, built in memory
        parent = ET.SubElement(parent, "b")
    text = doc.to_bytes().decode()
    assert text.count("<b>") == 19_999 and text.count("<b/>") == 1 and text.count("</b>") == 19_999
