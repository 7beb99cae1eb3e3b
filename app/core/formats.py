"""Which file names are photos, RAW companions, sidecars or things to pass over."""
from __future__ import annotations

# Extensions Pillow (with pillow-heif) decodes; all are scored.
DECODABLE = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".dib", ".gif",
    ".heic", ".heif", ".hif", ".avif",
})
# Camera RAW formats: scored through their embedded preview (rawpy) unless a JPEG sibling exists.
RAW = frozenset({
    ".3fr", ".arw", ".cr2", ".cr3", ".crw", ".dcr", ".dng", ".erf", ".iiq", ".k25", ".kdc",
    ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef", ".raf", ".raw", ".rw2", ".rwl",
    ".sr2", ".srf", ".srw", ".x3f",
})
# Photo formats people keep that we cannot decode: recorded as unsupported, with a reason.
UNSUPPORTED = {
    ".jxl": "JPEG XL is not supported yet",
    ".psd": "Photoshop documents are not supported",
    ".svg": "vector images are not photos and are not scored",
    ".exr": "OpenEXR HDR images are not supported",
}
PHOTO = DECODABLE | RAW | frozenset(UNSUPPORTED)
SIDECARS = frozenset({".xmp", ".thm", ".pp3", ".dop", ".on1"})
# JPEG-like siblings preferred over a RAW with the same stem.
RAW_PARTNERS = frozenset({".jpg", ".jpeg", ".jpe", ".heic", ".heif", ".hif", ".tif", ".tiff", ".png"})


def kind_of(suffix: str) -> str:
    """'photo', 'raw', 'unsupported' or 'other' for a file extension (any case)."""
    s = suffix.lower()
    if s in DECODABLE:
        return "photo"
    if s in RAW:
        return "raw"
    if s in UNSUPPORTED:
        return "unsupported"
    return "other"
