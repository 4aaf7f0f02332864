"""The process sandbox choice (SLIPWAY_PROCESS_SANDBOX) as the runtime carries it."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.errors import UsageError
from slipway.worker.runtime import Runtime, with_process_sandbox

ROOTLESS = Runtime("runc", Path("/usr/sbin/runc"), rootless=True)


@pytest.mark.parametrize("setting", [None, "", "on"])
def test_the_sandbox_is_on_unless_turned_off(setting: str | None) -> None:
    assert with_process_sandbox(ROOTLESS, setting).process_sandbox is True


def test_off_is_taken_by_a_rootless_slipway() -> None:
    assert with_process_sandbox(ROOTLESS, "off").process_sandbox is False


def test_off_is_refused_to_root() -> None:
    with pytest.raises(UsageError, match="SLIPWAY_PROCESS_SANDBOX=off is for a rootless slipway"):
        with_process_sandbox(Runtime("runc", Path("/usr/sbin/runc")), "off")


def test_another_value_is_a_usage_error_naming_the_choices() -> None:
    with pytest.raises(UsageError, match="SLIPWAY_PROCESS_SANDBOX=no: expected one of on, off"):
        with_process_sandbox(ROOTLESS, "no")
