"""The pure half of rootless set-up: which subordinate ids a user has, and the map slipway asks for."""

from __future__ import annotations

from slipway.worker.userns import IdRange, id_map, subordinate_ranges

SUBUID = """\
alice:100000:65536
bob:165536:65536
# a comment line and junk are skipped
broken
carol:x:10
1001:300000:1000
alice:500000:10
"""


def test_ranges_of_a_user_by_name_in_file_order() -> None:
    assert subordinate_ranges(SUBUID, "alice", 1000) == (IdRange(100000, 65536), IdRange(500000, 10))


def test_ranges_of_a_user_listed_by_uid() -> None:
    assert subordinate_ranges(SUBUID, "dave", 1001) == (IdRange(300000, 1000),)


def test_no_ranges_for_an_unlisted_user_or_a_malformed_line() -> None:
    assert subordinate_ranges(SUBUID, "erin", 1002) == ()
    assert subordinate_ranges(SUBUID, "carol", 1003) == ()


def test_the_map_gives_root_to_the_user_and_the_ranges_after_it() -> None:
    ranges = (IdRange(100000, 65536), IdRange(500000, 10))
    assert id_map(1000, ranges) == ((0, 1000, 1), (1, 100000, 65536), (65537, 500000, 10))
