"""`slipway analyze --ci`: dive's CI rules (lowest-efficiency, highest-wasted-bytes, highest-user-wasted-percent)
with dive's defaults, read from a `.dive-ci` file when there is one (dive's format: a `rules:` mapping, keys in
dive's kebab-case or its older camelCase), flags overriding. A value "disabled", "off", "false" or empty turns a
rule off."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from slipway.analysis._analyze import ImageAnalysis
from slipway.errors import UsageError

__all__ = ["DEFAULT_RULES", "RULE_NAMES", "CiRules", "evaluate", "parse_rules", "read_rules_file"]

RULE_NAMES = ("lowest-efficiency", "highest-wasted-bytes", "highest-user-wasted-percent")
DEFAULT_RULES = {
    "lowest-efficiency": "0.9",
    "highest-wasted-bytes": "disabled",
    "highest-user-wasted-percent": "0.1",
}
_CAMEL_CASE = {"lowestEfficiency": "lowest-efficiency", "highestWastedBytes": "highest-wasted-bytes",
               "highestUserWastedPercent": "highest-user-wasted-percent"}  # fmt: skip
_DISABLED = ("", "disabled", "off", "false")
# go-humanize's ParseBytes: a number, optional space, a unit; SI units are powers of 1000, "i" ones of 1024.
_BYTES = re.compile(r"^([0-9][0-9,]*(?:\.[0-9]*)?)\s*([kmgtpe]?)(i?)(b?)$", re.IGNORECASE)
_POWERS = "kmgtpe"


@dataclass(frozen=True, slots=True)
class CiRules:
    lowest_efficiency: float | None  # None: the rule is off
    highest_wasted_bytes: int | None
    highest_user_wasted_percent: float | None


def read_rules_file(path: Path) -> dict[str, str]:
    """The `rules:` of a .dive-ci file, keys in kebab-case; UsageError naming the file when it is bad."""
    import yaml  # only --ci reads YAML

    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise UsageError(f"{path}: cannot read dive's CI rules: {err}") from err
    rules = document.get("rules") if isinstance(document, dict) else None
    if rules is None:
        return {}
    if not isinstance(rules, dict):
        raise UsageError(f"{path}: `rules` must be a mapping of {', '.join(RULE_NAMES)}")
    found = {}
    for key, value in rules.items():
        name = _CAMEL_CASE.get(str(key), str(key))
        if name not in RULE_NAMES:
            raise UsageError(f"{path}: unknown rule {key!r}; the rules are {', '.join(RULE_NAMES)}")
        found[name] = "" if value is None else str(value)
    return found


def parse_rules(*sources: Mapping[str, str | None]) -> CiRules:
    """Rules from dive's defaults overridden by each source in turn (a None value leaves the rule as it was)."""
    values = dict(DEFAULT_RULES)
    for source in sources:
        values.update({name: value for name, value in source.items() if value is not None})
    return CiRules(
        lowest_efficiency=_ratio("lowest-efficiency", values["lowest-efficiency"]),
        highest_wasted_bytes=_bytes("highest-wasted-bytes", values["highest-wasted-bytes"]),
        highest_user_wasted_percent=_ratio(
            "highest-user-wasted-percent", values["highest-user-wasted-percent"]
        ),
    )


def evaluate(rules: CiRules, analysis: ImageAnalysis) -> tuple[str, ...]:
    """One line per broken rule, worded as dive words it; empty when the image passes."""
    broken = []
    if rules.lowest_efficiency is not None and analysis.efficiency < rules.lowest_efficiency:
        broken.append(
            f"lowest-efficiency: image efficiency is too low "
            f"(efficiency={analysis.efficiency:.2f} < threshold={rules.lowest_efficiency:g})"
        )
    if rules.highest_wasted_bytes is not None and analysis.wasted_bytes > rules.highest_wasted_bytes:
        broken.append(
            f"highest-wasted-bytes: too many bytes wasted "
            f"(wasted-bytes={analysis.wasted_bytes} > threshold={rules.highest_wasted_bytes})"
        )
    limit = rules.highest_user_wasted_percent
    if limit is not None and analysis.user_wasted_percent > limit:
        broken.append(
            "highest-user-wasted-percent: too many bytes wasted, relative to the user bytes added "
            f"(%-user-wasted-bytes={analysis.user_wasted_percent:.2f} > threshold={limit:g})"
        )
    return tuple(broken)


def _ratio(name: str, text: str) -> float | None:
    if text.strip().lower() in _DISABLED:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{name} {text!r}: expected a ratio between 0 and 1, or disabled") from None
    if not 0 <= value <= 1:
        raise UsageError(f"{name} {text!r}: outside the allowed range 0-1")
    return value


def _bytes(name: str, text: str) -> int | None:
    if text.strip().lower() in _DISABLED:
        return None
    match = _BYTES.match(text.strip())
    if match is None:
        raise UsageError(f"{name} {text!r}: expected a size such as 20MB, 1.5GiB or 1000000, or disabled")
    number, prefix, binary, _ = match.groups()
    base = 1024 if binary else 1000
    power = _POWERS.index(prefix.lower()) + 1 if prefix else 0
    return int(float(number.replace(",", "")) * base**power)
