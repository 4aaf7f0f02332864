"""The converter under hostile Dockerfiles: long chains of stages, many variables, values that repeat each
other, deep substitutions. Each ends in a build graph or a DockerfileError naming a line of the file."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slipway.errors import DockerfileError
from slipway.frontend.convert import BaseImage, ConvertOptions, convert
from slipway.frontend.parser import parse
from slipway.graph.ops import walk
from slipway.image.oci import ContainerConfig, ImageConfig, RootFS, sha256_digest


class AnyImage:
    """Every reference is an image with one ONBUILD trigger that names an earlier stage."""

    def resolve(self, ref: str, platform: str) -> BaseImage:
        config = ImageConfig(
            architecture="amd64",
            os="linux",
            rootfs=RootFS(),
            config=ContainerConfig(env=("PATH=/bin", "A=1"), on_build=("COPY --from=0 / /onbuild",)),
        )
        return BaseImage(ref=ref, manifest_digest=sha256_digest(ref.encode()), config=config)


def lines(template: str, count: int) -> str:
    return "".join(template.format(i=i, previous=max(i - 1, 0)) for i in range(count))


# Blocks of lines, each repeated up to thousands of times: where quadratic work and deep recursion hide.
BLOCK = st.sampled_from(
    [
        "FROM scratch AS s{i}\n",
        "FROM s{previous} AS t{i}\n",
        "COPY --from=s{previous} / /{i}\n",
        "RUN --mount=from=s{previous},target=/m true\n",
        "ENV V{i}=$V{previous}x\n",
        "ARG A{i}=${{A{previous}:-y}}\n",
        "LABEL l{i}=v\n",
        "ONBUILD COPY --from=s{previous} / /\n",
        "RUN echo {i}\n",
        "WORKDIR /w{i}\n",
        "EXPOSE {i}\n",
        "ENV B=$B$B\n",
    ]
)
BLOCKS = st.lists(st.tuples(BLOCK, st.integers(1, 1500)), min_size=1, max_size=5)
WIDE = st.sampled_from(["ENV", "LABEL", "ARG"])

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def converts_or_fails_cleanly(blocks: list[tuple[str, int]]) -> None:
    text = "FROM base AS s0\nENV B=bb\n" + "".join(lines(block, count) for block, count in blocks)
    try:
        graph = convert(parse(text, path="fuzz/Dockerfile"), ConvertOptions(), AnyImage())
    except DockerfileError as err:
        assert err.location is None or err.location.path == "fuzz/Dockerfile"
        return
    assert graph.target in graph.stages
    walk(graph.target.root)


@FAST
@given(BLOCKS)
def test_repeated_instructions_convert_or_fail_as_dockerfile_errors(blocks: list[tuple[str, int]]) -> None:
    converts_or_fails_cleanly(blocks)


@pytest.mark.slow
@MANY
@given(BLOCKS)
def test_repeated_instructions_convert_or_fail_as_dockerfile_errors_many(
    blocks: list[tuple[str, int]],
) -> None:
    converts_or_fails_cleanly(blocks)


@FAST
@given(WIDE, st.integers(1, 30_000))
def test_one_instruction_with_many_pairs_converts(keyword: str, count: int) -> None:
    text = f"FROM scratch\n{keyword} " + " ".join(f"K{i}=v{i}" for i in range(count)) + "\nRUN true\n"
    graph = convert(parse(text), ConvertOptions(), AnyImage())
    if keyword == "ENV":
        assert len(graph.target.config.config.env or ()) == count + 1  # and PATH
    if keyword == "LABEL":
        assert len(graph.target.config.config.labels or {}) == count
