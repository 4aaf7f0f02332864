"""find_runtime: SLIPWAY_RUNTIME by name or path, else the probe's verdict, made once and kept in the store root."""

from __future__ import annotations

from pathlib import Path

import pytest

from slipway.worker.runtime import Runtime

pytestmark = pytest.mark.root


def test_find_runtime_probes_once_and_remembers(tmp_path: Path) -> None:
    from slipway.errors import RuntimeNotFound
    from slipway.worker.runtime import RUNTIME_CHOICE_FILE, find_runtime

    chosen = find_runtime(root=tmp_path)
    # crun 1.8 cannot start containers on a hybrid-cgroup host; where it can, it is preferred.
    assert chosen.name in ("runc", "crun") and chosen.path.is_absolute()
    assert (tmp_path / RUNTIME_CHOICE_FILE).read_text().split() == [chosen.name, str(chosen.path)]
    runc = find_runtime("runc")
    (tmp_path / RUNTIME_CHOICE_FILE).write_text(f"remembered {runc.path}\n")
    assert find_runtime(root=tmp_path) == Runtime("remembered", runc.path), "the probe ran again"
    assert find_runtime(str(runc.path)) == Runtime("runc", runc.path)
    with pytest.raises(RuntimeNotFound, match="no-such-runtime"):
        find_runtime("no-such-runtime")
    with pytest.raises(RuntimeNotFound, match="/no/such/runc"):
        find_runtime("/no/such/runc")
