"""`slipway analyze`, `slipway diff`, `slipway advise`: where an image's bytes are, what differs between two
images, and a multi-stage rewrite of a Dockerfile. The work is in slipway.analysis; this parses and prints."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import msgspec

from slipway.cli._context import AppContext
from slipway.errors import UsageError
from slipway.store import Store

DIVE_CI_FILE = ".dive-ci"


def _root(ctx: click.Context) -> Path:
    app = ctx.find_object(AppContext)
    assert app is not None  # the `cli` group sets it before any command runs
    return app.root


def _print_json(value: object) -> None:
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(value)).decode() + "\n")


@click.command("analyze")
@click.argument("image")
@click.option("--format", "format_", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--ci", is_flag=True, help="Check dive's CI rules (from .dive-ci when present); exit 1 if one breaks."
)
@click.option("--ci-config", type=click.Path(dir_okay=False, path_type=Path), help="dive's CI rules file.")
@click.option("--lowest-efficiency", help="Lowest allowed efficiency, 0-1 (dive's default 0.9).")
@click.option("--highest-wasted-bytes", help="Most wasted bytes allowed, e.g. 20MB (default disabled).")
@click.option(
    "--highest-user-wasted-percent", help="Most wasted bytes over the bytes added, 0-1 (default 0.1)."
)
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), help="Write a report with pictures.")
@click.option(
    "--svg", type=click.Path(file_okay=False, path_type=Path), help="Write the pictures as SVG files."
)
@click.option("-f", "--file", "dockerfile", type=click.Path(dir_okay=False, path_type=Path),
              help="The Dockerfile the image was built from: the report shows its stage graph.")  # fmt: skip
@click.option("--context", type=click.Path(file_okay=False, path_type=Path),
              help="That Dockerfile's build context (default: its directory).")  # fmt: skip
@click.pass_context
def analyze(
    ctx: click.Context,
    image: str,
    format_: str,
    ci: bool,
    ci_config: Path | None,
    lowest_efficiency: str | None,
    highest_wasted_bytes: str | None,
    highest_user_wasted_percent: str | None,
    html: Path | None,
    svg: Path | None,
    dockerfile: Path | None,
    context: Path | None,
) -> None:
    """Where IMAGE's bytes are: per layer, wasted bytes and efficiency (dive's rules), largest paths, content."""
    from slipway.analysis import analyze as analyze_image
    from slipway.analysis import ci as rules
    from slipway.cli._analysis_views import analysis_text

    checks = None
    if ci:
        config = ci_config if ci_config is not None else Path(DIVE_CI_FILE)
        if ci_config is not None and not ci_config.is_file():
            raise UsageError(f"--ci-config {ci_config}: no such file")
        from_file = rules.read_rules_file(config) if config.is_file() else {}
        checks = rules.parse_rules(
            from_file,
            {
                "lowest-efficiency": lowest_efficiency,
                "highest-wasted-bytes": highest_wasted_bytes,
                "highest-user-wasted-percent": highest_user_wasted_percent,
            },
        )
    with Store.open(_root(ctx)) as store:
        result = analyze_image(store, image)
        graph = None
        if dockerfile is not None and (html is not None or svg is not None):
            from slipway.analysis.stages import stage_graph

            graph = stage_graph(store, dockerfile, context or dockerfile.parent, result.size)
    if format_ == "json":
        _print_json(result)
    else:
        click.echo(analysis_text(result))
    if html is not None or svg is not None:
        from slipway.analysis import report

        pictures = report.analysis_pictures(result, graph)
        _write_pictures(pictures, html, svg, f"slipway analyze {image}")
    if checks is not None:
        broken = rules.evaluate(checks, result)
        for line in broken:
            click.echo(f"FAIL {line}", err=True)
        if broken:
            sys.exit(1)
        click.echo("PASS all CI rules", err=True)


def _write_pictures(pictures: object, html: Path | None, svg: Path | None, title: str) -> None:
    from slipway.analysis import report

    assert isinstance(pictures, tuple)
    if html is not None:
        report.write_html(pictures, html, title)
        click.echo(f"wrote {html}", err=True)
    if svg is not None:
        for path in report.write_svgs(pictures, svg):
            click.echo(f"wrote {path}", err=True)


@click.command("diff")
@click.argument("before")
@click.argument("after")
@click.option("--format", "format_", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def diff(ctx: click.Context, before: str, after: str, format_: str) -> None:
    """What differs from image BEFORE to image AFTER: files (by directory) and packages."""
    from slipway.analysis.diff import diff as diff_images
    from slipway.cli._analysis_views import diff_text

    with Store.open(_root(ctx)) as store:
        result = diff_images(store, before, after)
    if format_ == "json":
        _print_json(result)
    else:
        click.echo(diff_text(result))


@click.command("advise")
@click.argument("context", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("-f", "--file", "dockerfile", help="Name of the Dockerfile (default CONTEXT/Dockerfile).")
@click.option("--image", help="Advise on this image of the store instead of building a Dockerfile.")
@click.option(
    "--build-arg",
    "build_args",
    multiple=True,
    help="Set build-time variables (KEY=VALUE; KEY alone: from the environment).",
)
@click.option("--target", help="The stage to build and shrink (default the last).")
@click.option("--base", default="scratch", show_default=True, help="The base of the new final stage.")
@click.option("--write", "write", help="Write the multi-stage Dockerfile to this file ('-' for stdout).")
@click.option(
    "--verify", is_flag=True, help="Build both images, run both, compare stdout, stderr and exit code."
)
@click.option(
    "--verify-cmd", help="The command both images run for --verify (default: their CMD/ENTRYPOINT)."
)
@click.option(
    "--verify-timeout", type=float, default=60.0, show_default=True, help="Seconds each run may take."
)
@click.option("--format", "format_", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--progress", type=click.Choice(["auto", "plain", "tty", "rawjson", "quiet"]), default="auto",
              show_default=True, help="How the builds show their progress (on stderr).")  # fmt: skip
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path), help="Write a report with pictures.")
@click.option(
    "--svg", type=click.Path(file_okay=False, path_type=Path), help="Write the pictures as SVG files."
)
@click.pass_context
def advise(
    ctx: click.Context,
    context: Path,
    dockerfile: str | None,
    image: str | None,
    build_args: tuple[str, ...],
    target: str | None,
    base: str,
    write: str | None,
    verify: bool,
    verify_cmd: str | None,
    verify_timeout: float,
    format_: str,
    progress: str,
    html: Path | None,
    svg: Path | None,
) -> None:
    """Rewrite a single-stage build as a multi-stage one whose final image holds only what its program needs."""
    import shlex

    from slipway._api.stores import runtime_for
    from slipway.analysis.advise import AdviceRequest
    from slipway.analysis.advise import advise as advise_image
    from slipway.cli._analysis_views import advice_text
    from slipway.cli._building import key_values
    from slipway.frontend.files import dockerfile_location
    from slipway.progress.render import open_renderer

    request = AdviceRequest(
        context=context,
        dockerfile=dockerfile_location(dockerfile, context),
        image=image,
        build_args=key_values(build_args, "--build-arg", from_environment=True),
        target=target,
        base=base,
        verify=verify,
        verify_command=tuple(shlex.split(verify_cmd)) if verify_cmd else (),
        verify_timeout=verify_timeout,
    )
    root = _root(ctx)
    with Store.open(root) as store:
        runtime = runtime_for(root)
        with open_renderer(progress, sys.stderr) as events:  # type: ignore[arg-type]
            result = advise_image(request, store=store, runtime=runtime, events=events)
    if write is not None and result.dockerfile is not None:
        if write == "-":
            sys.stdout.write(result.dockerfile)
        else:
            Path(write).write_text(result.dockerfile)
    report = sys.stderr if write == "-" else sys.stdout
    if format_ == "json":
        report.write(msgspec.json.format(msgspec.json.encode(result)).decode() + "\n")
    else:
        report.write(advice_text(result, written=write) + "\n")
    if (html is not None or svg is not None) and result.dockerfile is not None:
        from slipway.analysis import report as pictures

        _write_pictures(pictures.advice_pictures(result), html, svg, "slipway advise")
    if result.dockerfile is None:
        sys.exit(1)
