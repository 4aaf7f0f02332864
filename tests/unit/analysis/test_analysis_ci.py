"""dive's CI rules: defaults, .dive-ci files (both key spellings), flags overriding, sizes, one line per break."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from _analysis_entries import file

from slipway.analysis._analyze import analyze_layers
from slipway.analysis.ci import evaluate, parse_rules, read_rules_file
from slipway.errors import UsageError


def test_dive_defaults() -> None:
    rules = parse_rules()
    assert (rules.lowest_efficiency, rules.highest_wasted_bytes, rules.highest_user_wasted_percent) == (
        0.9,
        None,
        0.1,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20MB", 20_000_000), ("20 MiB", 20 * 1024**2), ("1.5GB", 1_500_000_000), ("1000", 1000), ("2k", 2000)],
)
def test_sizes_as_go_humanize_reads_them(text: str, expected: int) -> None:
    assert parse_rules({"highest-wasted-bytes": text}).highest_wasted_bytes == expected


def test_a_dive_ci_file_in_either_spelling_and_flags_over_it(tmp_path: Path) -> None:
    config = tmp_path / ".dive-ci"
    config.write_text(
        "rules:\n  lowestEfficiency: 0.95\n  highest-wasted-bytes: 20MB\n  highestUserWastedPercent: disabled\n"
    )
    from_file = read_rules_file(config)
    rules = parse_rules(from_file, {"lowest-efficiency": "0.5", "highest-wasted-bytes": None})
    assert (rules.lowest_efficiency, rules.highest_wasted_bytes, rules.highest_user_wasted_percent) == (
        0.5,
        20_000_000,
        None,
    )


@pytest.mark.parametrize("content", ["rules: [1, 2]\n", "rules:\n  speed: 3\n", "rules: {\n"])
def test_a_bad_rules_file_is_one_usage_error_naming_it(tmp_path: Path, content: str) -> None:
    config = tmp_path / ".dive-ci"
    config.write_text(content)
    with pytest.raises(UsageError, match=str(config)):
        read_rules_file(config)


@pytest.mark.parametrize(
    ("name", "value"),
    [("lowest-efficiency", "2"), ("lowest-efficiency", "much"), ("highest-wasted-bytes", "lots")],
)
def test_bad_values_are_usage_errors(name: str, value: str) -> None:
    with pytest.raises(UsageError, match=name):
        parse_rules({name: value})


def test_one_line_per_broken_rule() -> None:
    analysis = analyze_layers("img", "sha256:1", [[file("a", 100)], [file("a", 100)]])
    assert analysis.wasted_bytes == 200
    broken = evaluate(parse_rules({"highest-wasted-bytes": "150"}), analysis)
    assert [line.split(":")[0] for line in broken] == [
        "lowest-efficiency",
        "highest-wasted-bytes",
        "highest-user-wasted-percent",
    ]
    assert "wasted-bytes=200 > threshold=150" in broken[1]
    assert (
        evaluate(parse_rules({"lowest-efficiency": "0", "highest-user-wasted-percent": "off"}), analysis)
        == ()
    )
    assert evaluate(parse_rules(), replace(analysis, efficiency=0.95, user_wasted_percent=0.0)) == ()
