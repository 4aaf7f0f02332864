#!/usr/bin/env python3
"""Dockerfile parsing speed: slipway's parser against dockerfile-parse, the existing Python parser.

Generates a deterministic Dockerfile of about 5,000 lines (several stages; RUN with continuations,
ENV, ARG, LABEL, COPY with flags, heredocs, comments), parses it with each parser in alternation
(A B A B ...), and prints lines per second for each and the median of the per-round ratios.

    python3 benchmarks/parse_speed.py [--lines 5000] [--rounds 15] [--seed 1]

The two do different amounts of work. dockerfile-parse's `structure` cuts each line into an instruction
name and its text with a regular expression; it does not split arguments, read flags or JSON arrays,
or read heredoc bodies (it takes their lines for instructions). slipway does all that by BuildKit's
rules and returns frozen dataclasses with source locations.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import time

from dockerfile_parse import DockerfileParser

from slipway.frontend.parser import parse

PACKAGES = ("curl", "git", "make", "gcc", "libssl-dev", "ca-certificates", "python3", "jq", "unzip", "tzdata")


def generate(lines: int, seed: int) -> str:
    """A realistic multi-stage Dockerfile of at least `lines` lines, the same for the same seed."""
    rng = random.Random(seed)
    out: list[str] = ["# syntax=docker/dockerfile:1", "ARG BASE=debian:12", ""]
    stage = 0
    while len(out) < lines:
        stage += 1
        out += [f"# stage {stage}", f"FROM ${{BASE}} AS stage{stage}", f"ARG VERSION_{stage}=1.{stage}.0"]
        for _ in range(rng.randint(15, 30)):
            out += _step(rng, stage)
            if len(out) >= lines:
                break  # whole steps only: a cut heredoc would not parse
        out.append("")
    return "\n".join(out) + "\n"


def _step(rng: random.Random, stage: int) -> list[str]:
    kind = rng.choice(("run", "run", "run", "env", "copy", "copy", "heredoc", "label", "workdir", "comment"))
    if kind == "run":
        packages = rng.sample(PACKAGES, rng.randint(2, 6))
        return [
            "RUN apt-get update \\",
            "    && apt-get install -y --no-install-recommends \\",
            *(f"        {name} \\" for name in packages),
            "    && rm -rf /var/lib/apt/lists/*",
        ]
    if kind == "env":
        return [f'ENV APP_HOME=/opt/app{stage} PATH="/opt/app{stage}/bin:$PATH" LANG=C.UTF-8']
    if kind == "copy":
        source = f"stage{rng.randint(1, stage)}" if stage > 1 else "0"
        return [f"COPY --from={source} --chown=app:app --chmod=0755 /opt/app{stage}/bin/ /usr/local/bin/"]
    if kind == "heredoc":
        return [
            "RUN <<EOF bash -e",
            f"echo building stage {stage}",
            "make -j2 && make install",
            "EOF",
            f"COPY <<-'CONF' /etc/app{stage}.conf",
            "\tlisten = 8080",
            "\tworkers = 4",
            "\tCONF",
        ]
    if kind == "label":
        return [f'LABEL org.opencontainers.image.version="1.{stage}" stage="{stage}"']
    if kind == "workdir":
        return [f"WORKDIR /src/stage{stage}", 'CMD ["/usr/local/bin/app", "--serve"]']
    return ["# build the next piece", ""]


def time_slipway(data: bytes) -> float:
    started = time.perf_counter()
    parsed = parse(data, path="Dockerfile")
    elapsed = time.perf_counter() - started
    assert len(parsed.instructions) > 1000
    return elapsed


def time_dockerfile_parse(data: bytes) -> float:
    started = time.perf_counter()
    structure = DockerfileParser(fileobj=io.BytesIO(data), env_replace=False).structure
    elapsed = time.perf_counter() - started
    assert len(structure) > 1000
    return elapsed


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--lines", type=int, default=5000)
    options.add_argument("--rounds", type=int, default=15)
    options.add_argument("--seed", type=int, default=1)
    arguments = options.parse_args()
    text = generate(arguments.lines, arguments.seed)
    data = text.encode()
    count = text.count("\n")
    time_slipway(data), time_dockerfile_parse(data)  # warm up: imports, regex caches
    ours, theirs, ratios = [], [], []
    for _ in range(arguments.rounds):
        slipway_seconds = time_slipway(data)
        other_seconds = time_dockerfile_parse(data)
        ours.append(slipway_seconds)
        theirs.append(other_seconds)
        ratios.append(other_seconds / slipway_seconds)
    slipway_rate = count / statistics.median(ours)
    other_rate = count / statistics.median(theirs)
    print(f"Dockerfile: {count} lines, {len(data)} bytes, {arguments.rounds} alternating rounds")
    print(f"slipway          {slipway_rate:12,.0f} lines/s  (median {statistics.median(ours) * 1000:.1f} ms)")
    print(f"dockerfile-parse {other_rate:12,.0f} lines/s  (median {statistics.median(theirs) * 1000:.1f} ms)")
    print(f"slipway is {statistics.median(ratios):.1f}x as fast (median of per-round ratios)")


if __name__ == "__main__":
    main()
