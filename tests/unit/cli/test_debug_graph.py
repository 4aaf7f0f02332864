"""`slipway debug graph`: the stages a build needs and their steps, without any store."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from slipway.cli import cli

DOCKERFILE = """\
FROM golang:1.24 AS build
WORKDIR /src
COPY . .
RUN go build -o /out/app .
FROM alpine:3.20 AS lint
RUN golangci-lint run
FROM scratch AS release
COPY --from=build /out/app /app
CMD ["/app"]
"""


def run_graph(tmp_path: Path, *args: str) -> tuple[int, str]:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    result = CliRunner().invoke(
        cli, ["--root", str(tmp_path / "root"), "debug", "graph", *args, str(tmp_path)]
    )
    return result.exit_code, result.output


def test_graph_shows_the_needed_stages_and_drops_the_unused_one(tmp_path: Path) -> None:
    code, output = run_graph(tmp_path)
    assert code == 0, output
    assert "(base images not resolved" in output
    assert "stage 0 build" in output and "stage 2 release  (target)" in output
    assert "lint" not in output and "golangci-lint" not in output
    assert "[build 4/4] RUN go build -o /out/app ." in output
    assert "FROM docker.io/library/golang:1.24" in output
    copy_line = next(line for line in output.splitlines() if "COPY --from=build" in line)
    run_line = next(line for line in output.splitlines() if "RUN go build" in line)
    assert run_line.split()[0] in copy_line.split("<-")[1]  # the COPY reads the RUN's result
    assert not (tmp_path / "root").exists()  # no store was needed


def test_graph_follows_target_and_build_args(tmp_path: Path) -> None:
    code, output = run_graph(tmp_path, "--target", "LINT", "--platform", "linux/arm64")
    assert code == 0, output
    assert "stage 1 lint  (target)" in output and "build" not in output


def test_graph_reports_an_unknown_target_with_the_stages(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    result = CliRunner().invoke(cli, ["debug", "graph", "--target", "prod", str(tmp_path)])
    assert result.exit_code != 0
    assert "prod" in str(result.exception) and "build, lint, release" in str(result.exception)


def test_graph_reads_the_file_given_with_f(tmp_path: Path) -> None:
    other = tmp_path / "other.Dockerfile"
    other.write_text("ARG BASE=busybox\nFROM $BASE\nRUN true\n")
    result = CliRunner().invoke(
        cli, ["debug", "graph", "-f", str(other), "--build-arg", "BASE=alpine", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "FROM docker.io/library/alpine:latest" in result.output
    assert "[2/2] RUN true" in result.output
