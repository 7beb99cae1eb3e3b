"""Tests for the user's marks and their xmp:Rating form."""

import pytest

from app.core.ratings import XMP_REJECTED, Flag, check_stars, flag_from, from_xmp_rating, to_xmp_rating


@pytest.mark.parametrize("stars", [0, 1, 5])
def test_valid_stars_pass_through(stars):
    assert check_stars(stars) == stars


@pytest.mark.parametrize("stars", [-1, 6, 2.5, True, "3", None])
def test_invalid_stars_are_refused(stars):
    with pytest.raises(ValueError, match="rating must be 0-5"):
        check_stars(stars)


def test_flag_from_booleans():
    assert flag_from(pick=False, reject=False) is Flag.NONE
    assert flag_from(pick=True, reject=False) is Flag.PICK
    assert flag_from(pick=False, reject=True) is Flag.REJECT
    with pytest.raises(ValueError):
        flag_from(pick=True, reject=True)


def test_reject_is_minus_one_whatever_the_stars():
    assert to_xmp_rating(4, Flag.REJECT) == XMP_REJECTED == -1
    assert to_xmp_rating(None, Flag.REJECT) == -1


def test_stars_and_unrated():
    assert to_xmp_rating(3, Flag.PICK) == 3
    assert to_xmp_rating(None, Flag.NONE) is None
    with pytest.raises(ValueError):
        to_xmp_rating(9, Flag.NONE)


def test_from_xmp_rating():
    assert from_xmp_rating(None) == (None, False)
    assert from_xmp_rating(-1) == (None, True)
    assert from_xmp_rating(0) == (0, False)
    assert from_xmp_rating(5) == (5, False)
    with pytest.raises(ValueError):
        from_xmp_rating(7)
