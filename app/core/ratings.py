"""The user's marks on a photo: 0-5 stars and a pick/reject flag, and their XMP form."""

from __future__ import annotations

from enum import Enum

MIN_STARS = 0
MAX_STARS = 5
# Lightroom, darktable and digiKam all read xmp:Rating -1 as "rejected".
XMP_REJECTED = -1


class Flag(Enum):
    """Pick/reject flag; a photo is never both. The values are the library's own spelling (as
    stored); other words for "no flag" ("unmark" on the command line) are turned into NONE where
    they come in."""

    NONE = ""
    PICK = "pick"
    REJECT = "reject"


def check_stars(stars: int) -> int:
    """Return `stars` when it is a whole number 0-5, else raise ValueError."""
    # bool is an int subclass; True as "1 star" would be a caller bug, not a rating.
    if isinstance(stars, bool) or not isinstance(stars, int) or not MIN_STARS <= stars <= MAX_STARS:
        raise ValueError(f"rating must be {MIN_STARS}-{MAX_STARS}, got {stars!r}")
    return stars


def flag_from(pick: bool, reject: bool) -> Flag:
    """The flag for a pick/reject pair of booleans."""
    if pick and reject:
        raise ValueError("a photo can't be both picked and rejected")
    if reject:
        return Flag.REJECT
    return Flag.PICK if pick else Flag.NONE


def to_xmp_rating(stars: int | None, flag: Flag) -> int | None:
    """The xmp:Rating value for these marks: -1 when rejected, else the stars (None = unrated)."""
    if stars is not None:
        check_stars(stars)
    if flag is Flag.REJECT:
        return XMP_REJECTED
    return stars


def from_xmp_rating(rating: int | None) -> tuple[int | None, bool]:
    """Split an xmp:Rating into (stars, rejected); -1 gives (None, True)."""
    if rating is None:
        return None, False
    if rating == XMP_REJECTED:
        return None, True
    return check_stars(rating), False
