"""Wasted bytes and efficiency by dive's rules, on layers whose figures are worked out by hand."""

from __future__ import annotations

import pytest
from _analysis_entries import directory, file, opaque, whiteout

from slipway.analysis._waste import measure_waste

BASE = [directory("bin"), file("bin/sh", 1000), directory("etc"), file("etc/passwd", 100)]


def test_an_image_without_repeats_is_fully_efficient() -> None:
    waste = measure_waste([BASE, [directory("app"), file("app/main", 500)]])
    assert waste.efficiency == 1.0
    assert waste.wasted_bytes == 0
    assert waste.inefficiencies == ()


def test_written_overwritten_deleted_counts_every_copy_and_a_file_whiteout_weighs_nothing() -> None:
    layers = [BASE, [file("data", 1000)], [file("data", 3000)], [whiteout("data")]]
    waste = measure_waste(layers)
    assert waste.wasted_bytes == 4000  # dive counts the copy that stays too: 1000 + 3000 + 0
    [item] = waste.inefficiencies
    assert (item.path, item.count, item.wasted) == ("/data", 3, 4000)
    # smallest per path: 1000 + 100 + 0; totals: 1000 + 100 + 4000
    assert waste.efficiency == pytest.approx(1100 / 5100)
    assert waste.user_wasted_percent == pytest.approx(4000 / 4000)


def test_the_same_file_in_two_layers_is_waste_even_when_identical() -> None:
    waste = measure_waste([BASE, [file("etc/passwd", 100)]])
    assert waste.wasted_bytes == 200
    assert waste.efficiency == pytest.approx(1100 / 1200)


def test_a_directory_whiteout_weighs_what_it_hides_and_counts_at_the_directory_path() -> None:
    layers = [BASE, [directory("cache"), file("cache/a", 300), file("cache/b", 200)], [whiteout("cache")]]
    waste = measure_waste(layers)
    # The directory node was not a leaf in layer 1, so /cache has one node (the whiteout, 500 bytes): no waste.
    assert waste.wasted_bytes == 0
    assert waste.efficiency == 1.0
    removed_twice = measure_waste([*layers, [file("cache", 50)]])
    assert [(item.path, item.wasted) for item in removed_twice.inefficiencies] == [("/cache", 550)]


def test_a_directory_entry_without_children_in_its_layer_is_a_leaf() -> None:
    waste = measure_waste([[directory("tmp")], [directory("tmp")], [directory("tmp"), file("tmp/x", 5)]])
    [item] = waste.inefficiencies
    assert (item.path, item.count, item.wasted) == ("/tmp", 2, 0)


def test_opaque_markers_add_nothing() -> None:
    layers = [BASE, [directory("etc"), opaque("etc"), file("etc/hosts", 10)]]
    waste = measure_waste(layers)
    assert waste.wasted_bytes == 0
    assert waste.efficiency == 1.0


def test_a_whiteout_of_something_absent_counts_zero() -> None:
    waste = measure_waste([BASE, [whiteout("nothing")]])
    assert waste.wasted_bytes == 0
    assert waste.efficiency == 1.0


def test_nothing_sized_scores_one_and_user_percent_is_zero_without_user_bytes() -> None:
    waste = measure_waste([[directory("a")]])
    assert waste.efficiency == 1.0
    assert waste.user_wasted_percent == 0.0
