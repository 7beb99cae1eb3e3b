"""The one 'is this path in that folder' test (app.pathutil): siblings that share a prefix, the
folder itself, trailing separators, `..`, the file-system root, case and symbolic links."""
from __future__ import annotations

import os

import pytest

from app.pathutil import deepest_folder, folder_prefix, is_under


def test_a_sibling_that_shares_a_prefix_is_not_inside():
    assert is_under("/a/b/c.jpg", "/a/b")
    assert not is_under("/a/bc/c.jpg", "/a/b")
    assert not is_under("/a/bc", "/a/b")


def test_the_folder_itself_counts_unless_asked_otherwise():
    assert is_under("/a/b", "/a/b")
    assert not is_under("/a/b", "/a/b", or_same=False)
    assert is_under("/a/b/c", "/a/b", or_same=False)


@pytest.mark.parametrize("path, folder", [("/a/b/c.jpg", "/a/b/"), ("/a/b/", "/a/b"), ("/a/b", "/a/b//"),
                                          ("/a/b/../b/c.jpg", "/a/b"), ("/a/b/c.jpg", "/a/./b")])
def test_trailing_separators_and_dots_change_nothing(path, folder):
    assert is_under(path, folder)


def test_outside_and_above():
    assert not is_under("/a", "/a/b")
    assert not is_under("/a/b/../c.jpg", "/a/b")  # folded to /a/c.jpg
    assert not is_under("/x/a/b/c.jpg", "/a/b")


def test_the_file_system_root_holds_everything():
    assert folder_prefix("/") == "/"
    assert is_under("/a/b.jpg", "/") and is_under("/", "/")
    assert not is_under("/", "/", or_same=False)


def test_case_counts_as_in_the_database_index():
    assert not is_under("/Photos/a.jpg", "/photos")
    assert folder_prefix("/Photos/") == "/Photos" + os.sep


def test_links_are_not_followed(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    inside_link = str(tmp_path / "link" / "a.jpg")
    assert not is_under(inside_link, str(real))  # the path as the library recorded it
    assert is_under(os.path.realpath(inside_link), os.path.realpath(real))  # what a caller resolves


def test_deepest_folder_is_the_innermost_holder():
    folders = ["/a", "/a/b", "/a/bc", "/z"]
    assert deepest_folder("/a/b/c.jpg", folders) == "/a/b"
    assert deepest_folder("/a/bc/c.jpg", folders) == "/a/bc"
    assert deepest_folder("/a/x.jpg", folders) == "/a"
    assert deepest_folder("/a/b", folders) == "/a/b"
    assert deepest_folder("/q/x.jpg", folders) is None
    assert deepest_folder("/a/b/c.jpg", ["/a/b/", "/a"]) == "/a/b/"
