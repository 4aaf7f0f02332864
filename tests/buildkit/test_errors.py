"""BuildKit's frontend/dockerfile/errors_test.go, ported to slipway (see README.md).

BuildKit reads the error's source map through its client (errdefs.Sources); a user sees it as the
Dockerfile excerpt the CLI prints, each line of the failing instruction marked `>>>`.
"""

from __future__ import annotations

import re

import pytest

from buildkit._sandbox import Sandbox

pytestmark = pytest.mark.root

CASES = (
    ("invalidenv", "from alpine\nenv", (2,)),
    ("invalidsyntax", "#syntax=foobar\nfrom alpine", (1,)),
    ("invalidrun", "from scratch\nenv foo=bar\nrun what", (3,)),
    ("invalidcopy", "from scratch\nenv foo=bar\ncopy foo bar\nenv bar=baz", (3,)),
    ("invalidflag", "from scratch\nenv foo=bar\ncopy --foo=bar / /\nenv bar=baz", (3,)),
    ("invalidcopyfrom", "from scratch\nenv foo=bar\ncopy --from=invalid foo bar\nenv bar=baz", (3,)),
    ("invalidmultiline", "from scratch\nrun wh\\\nat\nenv bar=baz", (2, 3)),
)


# errors_test.go: testErrorsSourceMap (its cases in turn)
def test_errors_source_map(sandbox: Sandbox) -> None:
    for name, dockerfile, error_lines in CASES:
        output = sandbox.build_fails(sandbox.context(dockerfile))
        assert f"Dockerfile:{error_lines[0]}" in output, (name, output)
        marked = {int(number) for number in re.findall(r"^\s*(\d+) \| >>>", output, re.MULTILINE)}
        assert marked == set(error_lines), (name, output)
