"""The README's Python API example, run verbatim: its code block executed in a directory holding the seed
example, against a store of its own ($SLIPWAY_ROOT), with golang:1.24 imported as `make demo` leaves it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from tests.integration.conftest import Slipway, import_golang, mounts_under

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
GREETING = "Hello from a multi-stage build!"


def readme_example() -> str:
    section = (REPO / "README.md").read_text().split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, "the Python API section has one example"
    return str(blocks[0])


def test_the_readme_example_builds_the_seed_reads_its_size_and_runs_it(
    tmp_path: Path,
    golang_tar: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = Slipway(tmp_path / "store")
    import_golang(store, golang_tar)
    work = tmp_path / "work"
    shutil.copytree(REPO / "examples" / "seed", work / "examples" / "seed")
    monkeypatch.chdir(work)
    monkeypatch.setenv("SLIPWAY_ROOT", str(store.root))

    exec(compile(readme_example(), "README.md", "exec"), {"__name__": "__main__"})

    printed = capsys.readouterr().out.splitlines()
    assert printed[1] == f"exit 0: {GREETING}"
    match = re.fullmatch(
        r"docker\.io/library/frmscratch:v2: ([0-9.]+) MB in 1 layer, CMD \('/bin/hello',\)", printed[0]
    )
    assert match, printed
    row = {(row.repository, row.tag): row for row in store.images()}[("frmscratch", "v2")]
    assert float(match.group(1)) == pytest.approx(
        row.size_bytes / 1e6, abs=0.06
    )  # what `slipway images` says
    assert store.run_output("frmscratch:v2").splitlines()[0] == GREETING
    assert not mounts_under(store.root)
