"""XMP sidecars: read and write a photo's rating, pick and reject without disturbing anything else.

Rejects are ``xmp:Rating="-1"``, which Lightroom, darktable and digiKam all read. XMP has no
standard "pick", so picks are written as ``aesthete:Pick="True"`` in our own namespace
(NS_AESTHETE); for reading we also honour ``xmpDM:good="True"``, the flag Adobe Bridge writes.
The photo itself is only ever read.
"""

from __future__ import annotations

from collections.abc import Callable

import errno
import logging
import os
import re
import secrets
import stat
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from app.core import ratings

logger = logging.getLogger(__name__)

NS_X = "adobe:ns:meta/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_XMP = "http://ns.adobe.com/xap/1.0/"
NS_XMPDM = "http://ns.adobe.com/xmp/1.0/DynamicMedia/"
NS_AESTHETE = "http://ns.aesthete.app/xmp/1.0/"

_RDF_RDF = f"{{{NS_RDF}}}RDF"
_RDF_DESCRIPTION = f"{{{NS_RDF}}}Description"
_RDF_ABOUT = f"{{{NS_RDF}}}about"
_XMP_ROOTS = {f"{{{NS_X}}}xmpmeta", f"{{{NS_X}}}xapmeta", _RDF_RDF}

# Embedded XMP sits in the first APP1 segment of a JPEG and near the start of a TIFF, so a
# bounded read finds it without loading a 100 MB RAW.
_EMBEDDED_SCAN_BYTES = 4 * 1024 * 1024
_EXIF_RATING_TAG = 0x4746

# Real sidecars are kilobytes (darktable's with a long edit history stay well under 1 MiB): a larger
# "sidecar" is something else, and is neither read into memory nor replaced.
MAX_SIDECAR_BYTES = 4 * 1024 * 1024
# Real XMP nests about ten elements deep (struct in a bag in a description); far deeper is hostile.
MAX_DEPTH = 256

_NEW_SIDECAR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="Aesthete">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">\n'
    "  </rdf:Description>\n"
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n"
)


class SidecarError(Exception):
    """A sidecar that exists but can't be updated safely (it is left untouched)."""


class _NotASidecar(Exception):
    """Something at the sidecar's name that is no sidecar to read: its message says what it is."""


@dataclass(frozen=True)
class SidecarInfo:
    """What a sidecar says about the user's marks; None means the field is absent."""

    rating: int | None  # xmp:Rating, -1 = rejected
    label: str | None  # xmp:Label (colour label name)
    pick: bool | None

    @property
    def rejected(self) -> bool:
        return self.rating == ratings.XMP_REJECTED


def sidecar_path(photo: Path) -> Path:
    """The sidecar for `photo`: an existing NAME.EXT.xmp, else an existing NAME.xmp, else NAME.EXT.xmp."""
    full = [photo.with_name(photo.name + ext) for ext in (".xmp", ".XMP")]
    short = [photo.with_name(photo.stem + ext) for ext in (".xmp", ".XMP")]
    for candidate in full + short:
        # A photo that is itself named *.xmp must never be taken for its own sidecar. isfile is
        # False, not an error, for a name too long to exist beside a photo with a long name.
        if candidate.name.lower() != photo.name.lower() and os.path.isfile(candidate):
            return candidate
    return full[0]


def read_sidecar(photo: Path, on_problem: Callable[[str], None] | None = None) -> SidecarInfo | None:
    """The marks in `photo`'s sidecar; None when there is none or it can't be read (logged, and
    told to on_problem in plain words)."""
    path = sidecar_path(photo)
    if not os.path.exists(path):  # also a name too long to exist, and a link that leads nowhere
        return None
    try:
        doc = _parse(_read_bytes(path))
    except (OSError, ValueError, _NotASidecar) as error:
        logger.warning("Ignoring unreadable sidecar %s: %s", path, error)
        if on_problem is not None:
            on_problem(f"{path}: {error}; its marks were not read")
        return None
    return SidecarInfo(
        rating=_checked_rating(_get_property(doc.root, NS_XMP, "Rating"), path),
        label=_get_property(doc.root, NS_XMP, "Label"),
        pick=_read_pick(doc.root),
    )


def write_sidecar(photo: Path, rating: int | None, reject: bool, pick: bool) -> Path:
    """Record these marks in `photo`'s sidecar, updating it in place; returns the sidecar path.

    `rating` None means unrated (xmp:Rating is removed unless the photo is rejected).
    """
    xmp_rating = ratings.to_xmp_rating(rating, ratings.flag_from(pick, reject))
    target = sidecar_path(photo)
    try:
        os.lstat(target)
        present = True
    except OSError as error:
        if error.errno == errno.ENAMETOOLONG:
            raise SidecarError("the file name is too long for a sidecar beside it") from error
        if error.errno != errno.ENOENT:
            raise SidecarError(f"Couldn't read the sidecar {target}: {error.strerror}") from error
        present = False
    if present and not os.path.exists(target):
        # Writing would create a file wherever the link points: leave that to the user.
        raise SidecarError(f"The sidecar {target} is a link to a file that does not exist, so it was left as it is.")
    if present:
        try:
            doc = _parse(_read_bytes(target))
        except _NotASidecar as error:
            raise SidecarError(f"The sidecar {target} {error}, so it was left as it is.") from error
        except OSError as error:
            raise SidecarError(f"Couldn't read the sidecar {target}: {error}") from error
        except ValueError as error:
            raise SidecarError(f"The sidecar {target} is damaged, so it was left as it is ({error}).") from error
    else:
        doc = _parse(_NEW_SIDECAR.encode("utf-8"))

    _set_property(doc, NS_XMP, "Rating", None if xmp_rating is None else str(xmp_rating), "xmp")
    # Only write "False" when another tool's pick would otherwise show through.
    if pick:
        pick_value: str | None = "True"
    elif _get_property(doc.root, NS_XMPDM, "good") is not None:
        pick_value = "False"
    else:
        pick_value = None
    _set_property(doc, NS_AESTHETE, "Pick", pick_value, "aesthete")

    try:
        _atomic_write(target, doc.to_bytes(), photo)
    except OSError as error:
        if error.errno == errno.ENAMETOOLONG:
            raise SidecarError("the file name is too long for a sidecar beside it") from error
        raise SidecarError(f"Couldn't write the sidecar {target}: {error}") from error
    return target


def _read_bytes(path: Path) -> bytes:
    """The bytes of the sidecar at `path`: only a regular file, and at most MAX_SIDECAR_BYTES.

    Raises _NotASidecar for anything else (a FIFO, a device, a link to /dev/zero, a huge file).
    """
    _check_regular(os.stat(path))  # a device is not even opened
    # O_NONBLOCK: a FIFO swapped in after that look can't make open wait for a writer; the opened
    # file itself is checked again, so no swap between the look and the open gets through.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        _check_regular(os.fstat(fd))
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_SIDECAR_BYTES:  # reads one byte past the limit to tell a file that grew
            chunk = os.read(fd, min(1 << 20, MAX_SIDECAR_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > MAX_SIDECAR_BYTES:
        raise _NotASidecar(_too_large())
    return b"".join(chunks)


def _check_regular(st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO" if stat.S_ISFIFO(st.st_mode) else "a folder" if stat.S_ISDIR(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "something else")
        raise _NotASidecar(f"is not a regular file (it is {kind})")
    if st.st_size > MAX_SIDECAR_BYTES:
        raise _NotASidecar(_too_large(st.st_size))


def _too_large(size: int | None = None) -> str:
    limit = f"the limit is {MAX_SIDECAR_BYTES // (1024 * 1024)} MiB"
    if size is None:
        return f"is too large for a sidecar ({limit})"
    return f"is too large for a sidecar ({size / (1024 * 1024):.1f} MiB; {limit})"


def read_embedded_rating(path: Path) -> int | None:
    """The rating stored inside the photo file (XMP packet, else EXIF Rating); read-only."""
    try:
        with open(path, "rb") as f:
            head = f.read(_EMBEDDED_SCAN_BYTES)
    except OSError as error:
        logger.warning("Can't read %s for its rating: %s", path, error)
        return None
    rating = _packet_rating(head, path)
    return rating if rating is not None else _exif_rating(path)


# --- embedded metadata -------------------------------------------------------------------


def _packet_rating(head: bytes, path: Path) -> int | None:
    for opening, closing in ((b"<x:xmpmeta", b"</x:xmpmeta>"), (b"<x:xapmeta", b"</x:xapmeta>")):
        start = head.find(opening)
        end = head.find(closing, start) if start >= 0 else -1
        if end < 0:
            continue
        try:
            doc = _parse(head[start : end + len(closing)])
        except ValueError as error:
            logger.warning("Ignoring damaged XMP packet in %s: %s", path, error)
            return None
        return _checked_rating(_get_property(doc.root, NS_XMP, "Rating"), path)
    return None


def _exif_rating(path: Path) -> int | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            value = image.getexif().get(_EXIF_RATING_TAG)
    except UnidentifiedImageError:
        return None  # RAW and other formats Pillow doesn't read: no EXIF rating to offer
    except Exception:
        logger.warning("Can't read the EXIF rating of %s", path, exc_info=True)
        return None
    if isinstance(value, int) and ratings.MIN_STARS <= value <= ratings.MAX_STARS:
        return value
    return None


# --- XMP properties ----------------------------------------------------------------------


def _checked_rating(text: str | None, source: Path) -> int | None:
    if text is None:
        return None
    try:
        number = float(text)  # xmp:Rating is a Real; "3.0" happens
    except ValueError:
        number = float("nan")
    if number.is_integer() and ratings.XMP_REJECTED <= number <= ratings.MAX_STARS:
        return int(number)
    logger.warning("Ignoring rating %r in %s: not -1 or 0-5", text, source)
    return None


def _read_pick(root: ET.Element) -> bool | None:
    for uri, name in ((NS_AESTHETE, "Pick"), (NS_XMPDM, "good")):
        value = _get_property(root, uri, name)
        if value is not None:
            return value.strip().lower() in ("true", "1")
    return None


def _descriptions(root: ET.Element) -> list[ET.Element]:
    rdf = root if root.tag == _RDF_RDF else root.find(f".//{_RDF_RDF}")
    return [] if rdf is None else rdf.findall(_RDF_DESCRIPTION)


def _get_property(root: ET.Element, uri: str, name: str) -> str | None:
    """A simple property in attribute form or element form, from any rdf:Description."""
    key = f"{{{uri}}}{name}"
    for description in _descriptions(root):
        if key in description.attrib:
            return description.attrib[key]
        child = description.find(key)
        if child is not None:
            return (child.text or "").strip()
    return None


def _set_property(doc: _Document, uri: str, name: str, value: str | None, prefix: str) -> None:
    """Set (or with None remove) a simple property wherever it already is, else add an attribute."""
    key = f"{{{uri}}}{name}"
    found = False
    for description in _descriptions(doc.root):
        if key in description.attrib:
            found = True
            if value is None:
                del description.attrib[key]
            else:
                description.attrib[key] = value
        for child in list(description):
            if child.tag == key:
                found = True
                if value is None:
                    _remove_child(description, child)
                else:
                    child.text = value
    if found or value is None:
        return
    description = _first_description(doc)
    doc.declare(description, uri, prefix)
    description.set(key, value)


def _first_description(doc: _Document) -> ET.Element:
    descriptions = _descriptions(doc.root)
    if descriptions:
        return descriptions[0]
    rdf = doc.root if doc.root.tag == _RDF_RDF else doc.root.find(f".//{_RDF_RDF}")
    if rdf is None:
        rdf = ET.SubElement(doc.root, _RDF_RDF)
        doc.declare(rdf, NS_RDF, "rdf")
    description = ET.SubElement(rdf, _RDF_DESCRIPTION, {_RDF_ABOUT: ""})
    doc.declare(description, NS_RDF, "rdf")
    return description


def _remove_child(parent: ET.Element, child: ET.Element) -> None:
    # The whitespace that followed the child now follows whatever preceded it, so the
    # indentation of the remaining elements stays as it was.
    index = list(parent).index(child)
    if index == 0:
        parent.text = child.tail
    else:
        parent[index - 1].tail = child.tail
    parent.remove(child)


# --- parsing and writing XML without losing prefixes -------------------------------------


class _Builder(ET.TreeBuilder):
    """A TreeBuilder that remembers which element declared which namespace prefix."""

    def __init__(self) -> None:
        super().__init__(insert_comments=True, insert_pis=True)
        self.declarations: dict[ET.Element, list[tuple[str, str]]] = {}
        self._pending: list[tuple[str, str]] = []
        self._depth = 0

    def start_ns(self, prefix: str, uri: str) -> None:
        self._pending.append((prefix or "", uri))

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        self._depth += 1
        if self._depth > MAX_DEPTH:  # refused while parsing, long before anything could recurse
            raise ValueError(f"its elements are nested too deeply (over {MAX_DEPTH} levels)")
        element = super().start(tag, attrs)
        if self._pending:
            self.declarations[element] = self._pending
            self._pending = []
        return element

    def end(self, tag: str) -> ET.Element:
        self._depth -= 1
        return super().end(tag)


@dataclass
class _Document:
    """A parsed XMP file: the text around the root (XML declaration, xpacket) kept verbatim."""

    prolog: str
    root: ET.Element
    epilog: str
    declarations: dict[ET.Element, list[tuple[str, str]]]
    bom: bytes
    codec: str

    def declare(self, element: ET.Element, uri: str, prefix: str) -> None:
        """Make sure `uri` has a prefix in scope at `element`, declaring it there if needed."""
        scope = self._scope_at(element)
        # Properties are attributes, which need a real prefix: a default namespace won't do.
        if any(p and u == uri for p, u in scope.items()):
            return
        candidate, n = prefix, 1
        while candidate in scope:
            candidate, n = f"{prefix}{n}", n + 1
        self.declarations.setdefault(element, []).append((candidate, uri))

    def _scope_at(self, element: ET.Element) -> dict[str, str]:
        parents = {child: parent for parent in self.root.iter() for child in parent}
        chain = [element]
        while chain[-1] in parents:
            chain.append(parents[chain[-1]])
        scope: dict[str, str] = {}
        for ancestor in reversed(chain):
            scope.update(self.declarations.get(ancestor, []))
        return scope

    def to_bytes(self) -> bytes:
        out: list[str] = [self.prolog]
        _serialize(self.root, {"xml": "http://www.w3.org/XML/1998/namespace"}, self.declarations, out)
        out.append(self.epilog)
        return self.bom + "".join(out).encode(self.codec)


_PROLOG_ITEM = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)", re.S)
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def _parse(data: bytes) -> _Document:
    """Parse XMP bytes; raises ValueError when they are not well-formed XMP."""
    bom, codec = b"", "utf-8"
    for mark, name in _BOMS:
        if data.startswith(mark):
            bom, codec = mark, name
            break
    try:
        text = data[len(bom) :].decode(codec)
    except UnicodeDecodeError as error:
        raise ValueError(f"not {codec} text") from error

    start = 0
    while match := _PROLOG_ITEM.match(text, start):
        start = match.end()
    while start < len(text) and text[start].isspace():
        start += 1
    end = len(text)
    while True:  # peel trailing processing instructions (the closing xpacket) and comments
        body = text[start:end].rstrip()
        if body.endswith("?>") and body.rfind("<?") > 0:
            end = start + body.rfind("<?")
        elif body.endswith("-->") and body.rfind("<!--") > 0:
            end = start + body.rfind("<!--")
        else:
            end = start + len(body)
            break

    builder = _Builder()
    parser = ET.XMLParser(target=builder)
    try:
        parser.feed(text[start:end])
        root = parser.close()
    except ET.ParseError as error:
        raise ValueError(f"not well-formed XML ({error})") from error
    except RecursionError as error:  # MAX_DEPTH should stop it first; any parse failure is the file's
        raise ValueError("its elements are nested too deeply") from error
    if root.tag not in _XMP_ROOTS:
        raise ValueError(f"not XMP (root element {root.tag!r})")
    return _Document(text[:start], root, text[end:], builder.declarations, bom, codec)


def _serialize(root: ET.Element, scope: dict[str, str], declarations: dict, out: list[str]) -> None:
    # A loop over a stack of its own, not recursion: no depth of tree can exhaust Python's stack.
    # Each entry is (element, the scope it sits in, the name to close it with, or None to open it).
    stack: list[tuple[ET.Element, dict[str, str], str | None]] = [(root, scope, None)]
    while stack:
        element, scope, closing = stack.pop()
        if closing is not None:
            out.append(f"</{closing}>")
        elif element.tag is ET.Comment:
            out.append(f"<!--{element.text or ''}-->")
        elif element.tag is ET.ProcessingInstruction:
            out.append(f"<?{element.text or ''}?>")
        else:
            own = list(declarations.get(element, []))
            scope = {**scope, **dict(own)}
            name = _qualified(element.tag, scope, own, attribute=False)
            # rdf:about first, then declarations, then properties: the order Exiv2 and Adobe write.
            about = [k for k in element.attrib if k == _RDF_ABOUT]
            keys = about + [k for k in element.attrib if k != _RDF_ABOUT]
            attributes = [f"{_qualified(k, scope, own, attribute=True)}={_quote(element.attrib[k])}" for k in keys]
            namespaces = [f"xmlns:{p}={_quote(u)}" if p else f"xmlns={_quote(u)}" for p, u in own]
            items = [*attributes[: len(about)], *namespaces, *attributes[len(about) :]]
            separator = _attribute_separator(out, len(items))
            out.append(f"<{name}" + "".join((" " if i == 0 else separator) + item for i, item in enumerate(items)))
            if element.text is None and len(element) == 0:
                out.append("/>")
            else:
                out.append(">" + _escape(element.text or ""))
                stack.append((element, scope, name))  # closed (and its tail written) after its children
                stack.extend((child, scope, None) for child in reversed(element))
                continue
        out.append(_escape(element.tail or ""))


def _attribute_separator(out: list[str], count: int) -> str:
    """One attribute per line, indented under the tag, when there are many (as darktable writes)."""
    preceding = out[-1] if out else ""
    if count <= 2 or "\n" not in preceding:
        return " "
    indent = preceding.rsplit("\n", 1)[1]
    return "\n" + indent + "  " if indent.isspace() or not indent else " "


def _qualified(key: str, scope: dict[str, str], own: list[tuple[str, str]], attribute: bool) -> str:
    """`{uri}local` as prefix:local using the prefixes in scope (declaring one if none is)."""
    if not key.startswith("{"):
        if not attribute and scope.get(""):
            # An un-namespaced element inside a default namespace needs it undeclared.
            own.append(("", ""))
            scope[""] = ""
        return key
    uri, local = key[1:].split("}", 1)
    for prefix, bound in reversed(scope.items()):
        if bound == uri and (prefix or not attribute):
            return f"{prefix}:{local}" if prefix else local
    prefix, n = "ns0", 0
    while prefix in scope:
        n += 1
        prefix = f"ns{n}"
    own.append((prefix, uri))
    scope[prefix] = uri
    return f"{prefix}:{local}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quote(value: str) -> str:
    value = _escape(value).replace('"', "&quot;")
    return '"' + value.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;") + '"'


def _atomic_write(target: Path, data: bytes, photo: Path) -> None:
    """Replace `target` with `data` in one step, so a crash leaves the old or the new sidecar.

    A sidecar that is a link is written through: the file at the end of the link gets the new
    content (replaced beside itself) and the link stays a link.
    """
    real = Path(os.path.realpath(target))
    if os.path.exists(real) and os.path.exists(photo) and os.path.samefile(real, photo):
        raise SidecarError(f"Refusing to write a sidecar over the photo {photo}.")
    # A short name of its own, so a photo with a long name can still get a sidecar; the leading
    # dot keeps scans from taking it for a file of the library.
    temp = real.with_name(f".aesthete-{secrets.token_hex(8)}.tmp")
    # O_EXCL: never clobber anything; mode 0o666 lets the umask decide, like a normal new file.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(real):
            os.chmod(temp, os.stat(real).st_mode & 0o7777)
        os.replace(temp, real)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(real.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
