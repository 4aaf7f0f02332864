"""analyze_layers: what each layer added, changed and removed, the largest paths, the kinds of content."""

from __future__ import annotations

from _analysis_entries import directory, file, whiteout

from slipway.analysis._analyze import analyze_layers
from slipway.image.oci import History

LAYERS = [
    [directory("usr"), directory("usr/local"), directory("usr/local/go"), file("usr/local/go/go", 9000),
     directory("var"), directory("var/lib"), directory("var/lib/apt"), directory("var/lib/apt/lists"),
     file("var/lib/apt/lists/main", 4000), file("etc", 10)],
    [file("app", 700), file("etc", 20)],
    [whiteout("var/lib/apt/lists"), file("app", 800)],
]  # fmt: skip
HISTORY = [
    History(created_by="FROM golang"),
    History(created_by="ENV A=1", empty_layer=True),
    History(created_by="COPY app ."),
    History(created_by="RUN rm -rf /var/lib/apt/lists"),
]


def test_each_layer_counts_added_modified_removed_and_its_wasted_bytes() -> None:
    result = analyze_layers("img", "sha256:1", LAYERS, HISTORY)
    first, second, third = result.layers
    assert [layer.instruction for layer in result.layers] == [
        "FROM golang",
        "COPY app .",
        "RUN rm -rf /var/lib/apt/lists",
    ]
    assert (first.added_files, first.added_bytes, first.wasted_bytes) == (3, 13010, 4010)
    assert (second.added_files, second.added_bytes, second.modified_files, second.modified_bytes) == (
        1,
        700,
        1,
        20,
    )
    assert second.wasted_bytes == 700  # app is written again above
    assert (third.removed_files, third.removed_bytes, third.modified_files) == (1, 4000, 1)
    assert result.size == 13010 + 720 + 800


def test_largest_paths_and_content_kinds_come_from_the_merged_tree() -> None:
    result = analyze_layers("img", "sha256:1", LAYERS, HISTORY)
    assert result.largest_files[0].path == "/usr/local/go/go"
    assert "/var/lib/apt/lists/main" not in [item.path for item in result.largest_files]
    assert result.largest_directories[0].path == "/usr/local/go"  # not /usr and /usr/local as well
    assert [(share.kind, share.bytes, share.toolchain) for share in result.content] == [
        ("Go toolchain", 9000, True)
    ]
    assert [share.short for share in result.toolchains()] == ["the Go toolchain"]


def test_an_image_without_history_still_has_its_layers() -> None:
    result = analyze_layers("img", "sha256:1", LAYERS)
    assert [layer.instruction for layer in result.layers] == ["", "", ""]
