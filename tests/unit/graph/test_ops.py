"""Vertex digests are pinned: they are the cache keys' base, kept in meta.db and in --cache-to manifests, so a
change to what they cover must be deliberate (a new CACHE_KEY_VERSION and new golden values below)."""

from __future__ import annotations

from typing import get_args

import pytest

from slipway.errors import SourceLocation
from slipway.graph.ops import (
    CACHE_KEY_VERSION,
    ContextSource,
    Copy,
    Exec,
    GitSource,
    HttpSource,
    ImageSource,
    InlineSource,
    Mkdir,
    Op,
    RunMount,
    ScratchSource,
    StepMeta,
    Vertex,
)
from slipway.image.oci import Digest
from slipway.solver.keys import combine

BASE = Vertex(
    ImageSource(ref="docker.io/library/busybox:latest", manifest_digest=Digest("sha256:" + "b" * 64))
)
CONTEXT = Vertex(ContextSource(exclude=("*.log",)))

# One vertex of every op kind, each with a field away from its default.
VERTICES: dict[type, Vertex] = {
    ImageSource: BASE,
    ScratchSource: Vertex(ScratchSource()),
    ContextSource: CONTEXT,
    InlineSource: Vertex(InlineSource(files=(("run.sh", "echo hi\n", 0o755),))),
    HttpSource: Vertex(
        HttpSource(url="https://example.invalid/f.tgz", filename="f.tgz", checksum="sha256:" + "c" * 64)
    ),
    GitSource: Vertex(GitSource(url="https://example.invalid/r.git", ref="v1", keep_git_dir=True)),
    Exec: Vertex(
        Exec(
            args=("/bin/sh", "-c", "make"),
            env=("PATH=/bin",),
            cwd="/src",
            user="app",
            network="none",
            mounts=(RunMount(type="bind", target="/src", input=1, readonly=False),),
        ),
        inputs=(BASE, CONTEXT),
    ),  # fmt: skip
    Copy: Vertex(
        Copy(sources=("a.txt",), dest="/app/", chmod="755", exclude=("*.tmp",)), inputs=(BASE, CONTEXT)
    ),
    Mkdir: Vertex(Mkdir(path="/app", mode=0o700, chown="app"), inputs=(BASE,)),
}

GOLDEN = {
    ImageSource: "sha256:a31ba4f787a9336ced93c3135467b40991b046dd47a0f8dd04ddd3fd8a47b0a9",
    ScratchSource: "sha256:ebefc805d37c0629dca0d214f7da7f883365c8281af9de8458b561d53107fba5",
    ContextSource: "sha256:86de33dd8fd644c49a723f745acef474096b2078994341e78ef3071750242aed",
    InlineSource: "sha256:7f0f92fd4b88b15cb5ad5c53912425287b3cea6a4a0267d14d6b8d58eb4320e6",
    HttpSource: "sha256:49f188e8dd6bd13f208ba00a467de668d0f94c1b4a6993b920b3b2514ae64781",
    GitSource: "sha256:3e2bf4de3b65f7dec23c1f57e71f80337176bec680ad988602bdfef21604cdc1",  # submodules added
    Exec: "sha256:86f01b9bb430704bdc798f951faf0a0fb1d30b30572b995f0247fb97611d306b",
    Copy: "sha256:62aece7d25e30b8cde6a0a273bb67ffa8c13156ecea2417079113d41d4eab0f9",
    Mkdir: "sha256:3a65d84eebd501c59814f3a6b74fb751478457e81f73072fabb58b3500f12e7e",
}


def test_every_op_kind_is_pinned() -> None:
    assert set(VERTICES) == set(GOLDEN) == set(get_args(Op))
    tags = [kind.op_tag for kind in get_args(Op)]
    assert len(set(tags)) == len(tags), "each op kind hashes under its own tag"


@pytest.mark.parametrize("kind", list(GOLDEN), ids=lambda kind: kind.__name__)
def test_the_digest_of_each_op_kind_is_pinned(kind: type) -> None:
    assert CACHE_KEY_VERSION == 1
    assert VERTICES[kind].digest == GOLDEN[kind]


def test_what_a_user_sees_is_not_hashed() -> None:
    shown = StepMeta(
        name="[2/3] COPY a.txt /app/", stage="build", location=SourceLocation("Dockerfile", 3, 3)
    )
    vertex = VERTICES[Copy]
    assert Vertex(vertex.op, vertex.inputs, meta=shown).digest == vertex.digest


def test_a_step_cache_key_is_pinned() -> None:
    """The solver's key over a step's vertex digest and its inputs' keys (solver/solve.py's _cache_key)."""
    vertex = VERTICES[Copy]
    key = combine(vertex.op.op_tag, vertex.digest, [BASE.digest, CONTEXT.digest, "sha256:" + "d" * 64])
    assert key == "sha256:a48517e216e3f3b71ae87aba17041a077fb7370af6540db51eb46766510720fc"


def test_a_git_checksum_is_a_check_not_part_of_the_digest() -> None:
    plain = Vertex(GitSource(url="https://example.invalid/r.git", ref="v1"))
    checked = Vertex(GitSource(url="https://example.invalid/r.git", ref="v1", checksum="abc123"))
    assert plain.digest == checked.digest
    assert Vertex(GitSource(url="https://example.invalid/r.git", ref="v2")).digest != plain.digest
