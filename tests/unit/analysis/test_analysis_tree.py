"""The merged tree: OCI whiteouts, opaque directories, files replacing directories, symlinks resolved inside."""

from __future__ import annotations

from _analysis_entries import directory, file, opaque, symlink, whiteout

from slipway.analysis._tree import Tree


def paths(tree: Tree) -> list[str]:
    return [path for path, _ in tree.files()]


def test_layers_stack_and_the_top_writer_wins() -> None:
    tree = Tree.of([[directory("a"), file("a/x", 1)], [file("a/x", 2), file("a/y", 3)]])
    assert paths(tree) == ["a", "a/x", "a/y"]
    found = tree.get("a/x")
    assert found is not None and (found.entry.size, found.layer) == (2, 1)


def test_a_whiteout_removes_a_whole_directory_of_the_layers_below() -> None:
    tree = Tree.of([[directory("a"), directory("a/b"), file("a/b/c", 1), file("keep", 1)], [whiteout("a/b")]])
    assert paths(tree) == ["a", "keep"]


def test_whiteouts_hide_only_lower_layers_whatever_their_order_in_the_tar() -> None:
    tree = Tree.of([[file("x", 1)], [file("x", 2), whiteout("x")]])
    found = tree.get("x")
    assert found is not None and found.entry.size == 2


def test_an_opaque_directory_hides_what_lies_below_it() -> None:
    tree = Tree.of([[directory("d"), file("d/old", 1)], [directory("d"), file("d/new", 1), opaque("d")]])
    assert paths(tree) == ["d", "d/new"]


def test_a_file_replacing_a_directory_drops_its_children() -> None:
    tree = Tree.of([[directory("d"), file("d/x", 1)], [file("d", 5)]])
    assert paths(tree) == ["d"]


def test_resolve_follows_symlinks_inside_the_tree_and_never_out() -> None:
    tree = Tree.of(
        [
            [directory("usr"), directory("usr/bin"), file("usr/bin/app", 1), symlink("bin", "usr/bin")],
            [symlink("usr/bin/up", "../../../../etc"), directory("etc"), file("etc/passwd", 1)],
            [symlink("loop", "loop")],
        ]
    )
    assert tree.resolve("/bin/app") == "usr/bin/app"
    assert tree.resolve("/usr/bin/up/passwd") == "etc/passwd"
    assert tree.resolve("/missing") is None
    assert tree.resolve("/loop") is None
