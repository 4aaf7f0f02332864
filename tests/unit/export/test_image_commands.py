"""The image commands as a user sees them: docker's columns and formats, rmi's rules, prune, tag, system."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from _archive_images import add_image, run_cli
from click.testing import CliRunner

from slipway.cli import cli
from slipway.cli._humanize import human_duration, human_size
from slipway.errors import ImageInUse
from slipway.image.oci import MEDIA_OCI_CONFIG, ContainerConfig, Descriptor, Healthcheck, encode_json
from slipway.store import ImageRecord, Store
from slipway.worker.mount_plan import Overlay

NOW_ISH = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def family(store: Store) -> dict[str, ImageRecord]:
    """base:1 (1 layer), app:1 and registry.local:5000/app:2 on it (2 layers), an untagged leftover."""
    base = add_image(
        store,
        [{"bin/sh": b"x" * 2100}],
        ["base:1"],
        created="2020-01-01T00:00:00Z",
        created_by="ADD rootfs /",
    )
    app = add_image(
        store,
        [{"app/main": b"y" * 1_500_000}],
        ["app:1", "registry.local:5000/app:2"],
        base=base,
        created=NOW_ISH,
        created_by="/bin/sh -c make install PREFIX=/usr/local/very/long/path/for/the/application",
    )
    old = add_image(store, [{"old": b"z"}], [], created="2024-01-01T00:00:00Z")
    return {"base": base, "app": app, "old": old}


def lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


def test_images_table_has_dockers_columns_and_alignment(family: dict[str, ImageRecord], root: Path) -> None:
    output = lines(run_cli(root, "images").output)
    assert re.split(r"\s{3,}", output[0]) == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    assert output[0].startswith("REPOSITORY                TAG       IMAGE ID       CREATED")
    app_id = family["app"].id[7:19]
    rows = [re.split(r"\s{3,}", line) for line in output[1:]]
    assert rows == [
        ["app", "1", app_id, rows[0][3], human_size(family["app"].size, 3)],
        ["registry.local:5000/app", "2", app_id, rows[1][3], human_size(family["app"].size, 3)],
        ["<none>", "<none>", family["old"].id[7:19], rows[2][3], human_size(family["old"].size, 3)],
        ["base", "1", family["base"].id[7:19], rows[3][3], human_size(family["base"].size, 3)],
    ]
    assert rows[0][3].endswith("ago") and rows[3][3].endswith("years ago")
    # Every column starts where its header does (tabwriter: widest cell plus 3 spaces).
    for header in ("TAG", "IMAGE ID", "CREATED", "SIZE"):
        column = output[0].index(header)
        assert all(line[column - 1] == " " and line[column] != " " for line in output[1:])


def test_images_quiet_digests_no_trunc_format_and_filters(family: dict[str, ImageRecord], root: Path) -> None:
    app, base, old = family["app"], family["base"], family["old"]
    assert lines(run_cli(root, "images", "-q").output) == [
        app.id[7:19],
        app.id[7:19],
        old.id[7:19],
        base.id[7:19],
    ]
    digests = lines(run_cli(root, "images", "--digests", "--no-trunc").output)
    assert digests[0].split() == ["REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED", "SIZE"]
    assert digests[1].split()[:4] == ["app", "1", app.manifest_digest, app.id]
    assert digests[3].split()[:3] == ["<none>", "<none>", "<none>"]
    formatted = run_cli(root, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}").output
    assert lines(formatted)[0] == f"app:1 {app.id[7:19]} {human_size(app.size, 3)}"
    table = lines(run_cli(root, "images", "--format", "table {{.Repository}}\\t{{.Tag}}").output)
    assert table[:2] == ["REPOSITORY                TAG", "app                       1"]
    as_json = [json.loads(line) for line in lines(run_cli(root, "images", "--format", "json").output)]
    assert as_json[0]["ID"] == app.id[7:19] and as_json[2]["Repository"] == "<none>"
    assert (
        '"Digest":"\\u003cnone\\u003e"'
        in run_cli(root, "images", "--format", "json", "-f", "dangling=true").output
    )
    assert lines(run_cli(root, "images", "-q", "--filter", "dangling=true").output) == [old.id[7:19]]
    assert lines(run_cli(root, "images", "--format", "{{.Tag}}", "-f", "dangling=false").output) == [
        "1",
        "2",
        "1",
    ]
    assert lines(run_cli(root, "images", "--format", "{{.Repository}}", "-f", "reference=*app").output) == [
        "app"
    ]
    assert lines(
        run_cli(root, "images", "--format", "{{.Repository}}", "-f", "reference=*/app:2").output
    ) == ["registry.local:5000/app"]
    assert lines(run_cli(root, "images", "--format", "{{.Repository}}:{{.Tag}}", "base").output) == ["base:1"]


def test_images_hides_intermediate_images_unless_all(store: Store, root: Path) -> None:
    base = add_image(store, [{"a": b"1"}], ["base:1"])
    add_image(store, [{"b": b"2"}], ["child:1"], base=base)
    store.images.untag("base:1")
    assert lines(run_cli(root, "images", "--format", "{{.Repository}}").output) == ["child"]
    assert sorted(lines(run_cli(root, "images", "-a", "--format", "{{.Repository}}").output)) == [
        "<none>",
        "child",
    ]


def test_history_shows_layers_newest_first_with_sizes(
    family: dict[str, ImageRecord], root: Path, store: Store
) -> None:
    output = lines(run_cli(root, "history", "app:1").output)
    assert re.split(r"\s{3,}", output[0]) == ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
    newest = re.split(r"\s{3,}", output[1])
    assert newest[0] == family["app"].id[7:19]
    assert newest[2] == "/bin/sh -c make install PREFIX=/usr/local/ve…"  # 44 characters and an ellipsis
    layer = store.images.layer(family["app"].config.rootfs.diff_ids[1])
    assert layer is not None and newest[3] == human_size(layer.uncompressed_size, 3)
    oldest = re.split(r"\s{3,}", output[2])
    assert (
        oldest[0] == "<missing>"
        and oldest[2] == "ADD rootfs /"
        and oldest[3] == human_size(family["base"].size, 3)
    )
    full = lines(run_cli(root, "history", "--no-trunc", "app:1").output)
    assert family["app"].id in full[1] and "PREFIX=/usr/local/very/long/path/for/the/application" in full[1]
    assert lines(run_cli(root, "history", "-q", "app:1").output) == [family["app"].id[7:19], "<missing>"]
    as_json = json.loads(lines(run_cli(root, "history", "--format", "json", "base:1").output)[0])
    assert as_json["CreatedAt"].startswith("20") and as_json["CreatedSince"].endswith("years ago")
    assert as_json["CreatedBy"] == "ADD rootfs /" and as_json["Size"] == human_size(family["base"].size, 3)


def test_inspect_prints_a_docker_shaped_json_array(store: Store, root: Path) -> None:
    config = ContainerConfig(
        user="app",
        env=("PATH=/bin", "A=b"),
        entrypoint=("/bin/app",),
        cmd=("--serve",),
        working_dir="/srv",
        exposed_ports={"8080/tcp": {}},
        volumes={"/data": {}},
        labels={"org.example": "yes"},
        stop_signal="SIGTERM",
        healthcheck=Healthcheck(test=("CMD", "true"), interval=30_000_000_000),
        shell=("/bin/ash", "-c"),
        on_build=("RUN echo child",),
    )
    image = add_image(store, [{"bin/app": b"app"}], ["svc:1", "svc:latest"], config=config)
    [document] = json.loads(run_cli(root, "inspect", "svc:1").output)
    assert document["Id"] == image.id
    assert document["RepoTags"] == ["svc:1", "svc:latest"]
    assert document["RepoDigests"] == [f"svc@{image.manifest_digest}"]
    assert document["Config"] == {
        "User": "app",
        "ExposedPorts": {"8080/tcp": {}},
        "Env": ["PATH=/bin", "A=b"],
        "Cmd": ["--serve"],
        "Healthcheck": {"Test": ["CMD", "true"], "Interval": 30_000_000_000},
        "ArgsEscaped": False,
        "Volumes": {"/data": {}},
        "WorkingDir": "/srv",
        "Entrypoint": ["/bin/app"],
        "OnBuild": ["RUN echo child"],
        "Labels": {"org.example": "yes"},
        "StopSignal": "SIGTERM",
        "Shell": ["/bin/ash", "-c"],
    }
    assert (document["Architecture"], document["Os"], document["Size"]) == ("amd64", "linux", image.size)
    assert document["RootFS"] == {"Type": "layers", "Layers": list(image.config.rootfs.diff_ids)}
    assert "Metadata" in document and document["Created"] == image.created
    assert run_cli(root, "inspect", "--format", "{{.Id}}", "svc:1").output == image.id + "\n"
    assert json.loads(run_cli(root, "inspect", "-f", "{{json .Config.Labels}}", "svc:1").output) == {
        "org.example": "yes"
    }
    assert run_cli(
        root,
        "image",
        "inspect",
        "-f",
        '{{.Config.Env}} {{index .Config.Labels "org.example"}}',
        image.id[7:15],
    ).output == ("[PATH=/bin A=b] yes\n")


def test_inspect_of_a_missing_image_fails_after_printing_the_others(
    family: dict[str, ImageRecord], root: Path
) -> None:
    result = CliRunner().invoke(cli, ["--root", str(root), "inspect", "base:1", "nope:1"])
    assert result.exit_code == 1
    assert len(json.loads(result.stdout)) == 1
    assert "nope:1" in result.stderr


def test_tag_adds_a_name_and_rmi_of_a_shared_name_only_untags(
    family: dict[str, ImageRecord], root: Path
) -> None:
    assert run_cli(root, "tag", "base:1", "mirror.local/base:stable").exit_code == 0
    assert "mirror.local/base" in run_cli(root, "images").output
    result = run_cli(root, "rmi", "mirror.local/base:stable")
    assert result.output == "Untagged: mirror.local/base:stable\n"
    assert run_cli(root, "rmi", "registry.local:5000/app:2").output == "Untagged: registry.local:5000/app:2\n"
    assert "app" in run_cli(root, "images").output


def test_rmi_refuses_a_parent_image_unless_forced(
    family: dict[str, ImageRecord], root: Path, store: Store
) -> None:
    base = family["base"]
    result = CliRunner().invoke(cli, ["--root", str(root), "rmi", base.id[7:19]], standalone_mode=False)
    assert isinstance(result.exception, ImageInUse) or result.exit_code == 1
    assert "image has dependent child images" in result.stderr
    assert "app:1" in result.stderr
    assert store.images.resolve("base:1").id == base.id
    forced = run_cli(root, "rmi", "-f", base.id[7:19])
    assert forced.output == f"Untagged: base:1\nDeleted: {base.id}\n"
    assert "base" not in run_cli(root, "images").output


def test_rmi_of_the_last_name_of_a_parent_keeps_it_untagged(
    family: dict[str, ImageRecord], root: Path
) -> None:
    assert run_cli(root, "rmi", "base:1").output == "Untagged: base:1\n"
    assert family["base"].id[7:19] in run_cli(root, "images", "-a", "-q").output
    # Removing the child then takes its unnamed parent along, as docker does.
    result = run_cli(root, "rmi", "app:1", "registry.local:5000/app:2")
    assert result.output == (
        f"Untagged: app:1\nUntagged: registry.local:5000/app:2\nDeleted: {family['app'].id}\nDeleted: {family['base'].id}\n"
    )


def test_rmi_by_id_of_an_image_in_two_repositories_needs_force(
    family: dict[str, ImageRecord], root: Path
) -> None:
    app = family["app"]
    result = CliRunner().invoke(cli, ["--root", str(root), "rmi", app.id[7:19], "nope:1"])
    assert result.exit_code == 1
    assert "referenced in multiple repositories" in result.stderr and "nope:1" in result.stderr
    forced = run_cli(root, "rmi", "-f", app.id)
    assert forced.output == f"Untagged: app:1\nUntagged: registry.local:5000/app:2\nDeleted: {app.id}\n"


def test_image_prune_removes_dangling_images_and_reports_space(
    family: dict[str, ImageRecord], root: Path, store: Store
) -> None:
    result = run_cli(root, "image", "prune", "-f")
    assert lines(result.output) == [
        "Deleted Images:",
        f"deleted: {family['old'].id}",
        "",
        result.output.split("\n")[-2],
    ]
    assert re.fullmatch(r"Total reclaimed space: [1-9][\d.]*k?B", lines(result.output)[-1])
    assert [image.names for image in store.images.list()] == [
        ("docker.io/library/app:1", "registry.local:5000/app:2"),
        ("docker.io/library/base:1",),
    ]
    assert run_cli(root, "image", "prune", "-f").output == "Total reclaimed space: 0B\n"


def test_image_prune_all_removes_children_before_parents(
    family: dict[str, ImageRecord], root: Path, store: Store
) -> None:
    declined = CliRunner().invoke(cli, ["--root", str(root), "image", "prune", "-a"], input="n\n")
    assert declined.exit_code == 1 and "Are you sure you want to continue?" in declined.output
    assert len(store.images.list()) == 3
    result = run_cli(root, "image", "prune", "-a", "-f")
    assert lines(result.output)[:7] == [
        "Deleted Images:",
        "untagged: app:1",
        "untagged: registry.local:5000/app:2",
        f"deleted: {family['app'].id}",
        f"deleted: {family['old'].id}",
        "untagged: base:1",
        f"deleted: {family['base'].id}",
    ]
    assert store.images.list() == []
    assert sorted(p.name for p in (root / "blobs" / "sha256").iterdir()) == []


def test_system_df_check_and_prune(family: dict[str, ImageRecord], root: Path, store: Store) -> None:
    output = lines(run_cli(root, "system", "df").output)
    assert re.split(r"\s{3,}", output[0]) == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    images = re.split(r"\s{3,}", output[1])
    unique = family["app"].size + family["old"].size  # base's layer is app's first layer
    assert images == [
        "Images",
        "3",
        "2",
        human_size(unique),
        f"{human_size(family['old'].size)} ({family['old'].size * 100 // unique}%)",
    ]
    assert re.split(r"\s{3,}", output[2]) == ["Build Cache", "0", "0", "0B", "0B"]
    assert run_cli(root, "system", "check").output == f"No problems found in {root}.\n"
    (root / "blobs" / "sha256" / family["old"].manifest.layers[0].digest[7:]).chmod(0o644)
    (root / "blobs" / "sha256" / family["old"].manifest.layers[0].digest[7:]).write_bytes(b"bit rot")
    broken = CliRunner().invoke(cli, ["--root", str(root), "system", "check"])
    assert broken.exit_code == 1
    assert f"corrupt blob {family['old'].manifest.layers[0].digest}" in broken.stdout
    assert "1 problem found" in broken.stderr
    pruned = run_cli(root, "system", "prune", "-f")
    assert f"deleted: {family['old'].id}" in pruned.output
    assert run_cli(root, "system", "check").output == f"No problems found in {root}.\n"


def test_human_units_match_go_units() -> None:
    assert [human_size(n, 3) for n in (0, 999, 1000, 2_100_000, 812_000_000, 1_982_270)] == [
        "0B",
        "999B",
        "1kB",
        "2.1MB",
        "812MB",
        "1.98MB",
    ]
    assert human_size(1_982_270) == "1.982MB"
    assert [
        human_duration(s)
        for s in (0.5, 1, 59, 90, 3000, 5400, 86400 * 3, 86400 * 20, 86400 * 100, 86400 * 800)
    ] == [
        "Less than a second",
        "1 second",
        "59 seconds",
        "About a minute",
        "50 minutes",
        "2 hours",
        "3 days",
        "2 weeks",
        "3 months",
        "2 years",
    ]


def test_history_shows_empty_layer_entries_with_zero_size(store: Store, root: Path) -> None:
    from slipway.image.oci import History

    image = add_image(store, [{"a": b"1"}], ["hist:1"])
    config = msgspec.structs.replace(
        image.config,
        history=(
            *image.config.history,
            History(created="2024-05-01T10:00:01Z", created_by="ENV A=b", empty_layer=True),
        ),
    )
    data = encode_json(config)
    manifest = msgspec.structs.replace(
        image.manifest,
        config=Descriptor(media_type=MEDIA_OCI_CONFIG, digest=store.blobs.put(data), size=len(data)),
    )
    store.images.add(manifest, config, ["hist:2"])
    output = lines(run_cli(root, "history", "--format", "{{.CreatedBy}}|{{.Size}}|{{.ID}}", "hist:2").output)
    assert output == [
        f"ENV A=b|0B|{manifest.config.digest[7:19]}",
        f"COPY files /|{human_size(image.size, 3)}|<missing>",
    ]


def test_system_df_counts_build_cache_and_system_prune_clears_it(store: Store, root: Path) -> None:
    add_image(store, [{"a": b"1"}], ["kept:1"])
    plan = store.snapshots.prepare("run-step", None)
    assert isinstance(plan, Overlay) and plan.upper is not None
    (plan.upper / "built").write_bytes(b"r" * 4000)
    snapshot = store.snapshots.commit("run-step")
    store.cache.record("run-step-key", snapshot.id)
    store.close()
    output = lines(run_cli(root, "system", "df").output)
    assert re.split(r"\s{3,}", output[2]) == ["Build Cache", "1", "0", "4kB", "4kB"]
    pruned = run_cli(root, "system", "prune", "-f")
    assert lines(pruned.output)[0] == "Deleted build cache records: 1"
    assert re.fullmatch(r"Total reclaimed space: [\d.]+kB", lines(pruned.output)[-1])
    assert re.split(r"\s{3,}", lines(run_cli(root, "system", "df").output)[2]) == [
        "Build Cache",
        "0",
        "0",
        "0B",
        "0B",
    ]
    assert "kept" in run_cli(root, "images").output
