#!/usr/bin/env python3
"""Registry transfer speed: slipway's push_image/pull_image against `skopeo copy`, on one ~500 MB image.

    benchmarks/registry_push_pull.py [--size-mb 512] [--layers 4] [--runs 3] [--dir D]

Makes an image of --layers layers of incompressible bytes (gzip layers, so the blobs are as big as the data),
then, --runs times, alternating which tool goes first:
  push: slipway push_image from its store / skopeo copy from an OCI layout of the same image, each into a fresh,
        empty Distribution registry (`docker-registry serve`) on 127.0.0.1, so no blob is skipped or mounted;
  pull: slipway pull_image into a fresh store root / skopeo copy into a fresh OCI layout dir, from the registry.
Prints each time, the medians and the ratio slipway/skopeo (below 1: slipway is faster).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from slipway.image.layers import pack_layer
from slipway.image.oci import (
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_MANIFEST,
    Descriptor,
    ImageConfig,
    Manifest,
    RootFS,
    encode_json,
)
from slipway.registry import RegistryOptions, pull_image, push_image
from slipway.store import ImageRecord, Store

CHUNK = 8 << 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def registry(directory: Path) -> Iterator[str]:
    """A fresh, empty registry; its storage removed afterwards."""
    directory.mkdir(parents=True)
    port = free_port()
    config = directory / "config.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n"
        f"  filesystem:\n    rootdirectory: {directory / 'storage'}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        ["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        host = f"127.0.0.1:{port}"
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://{host}/v2/", timeout=1).status_code == 200:
                    break
            time.sleep(0.05)
        yield host
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)


def make_image(store: Store, work: Path, size_mb: int, layers: int) -> ImageRecord:
    infos = []
    per_layer = (size_mb << 20) // layers
    for position in range(layers):
        tree = work / f"layer-{position}"
        tree.mkdir(parents=True)
        with (tree / "data.bin").open("wb") as out:
            for _ in range(0, per_layer, CHUNK):
                out.write(os.urandom(min(CHUNK, per_layer)))
        with store.ingest() as writer:
            infos.append(pack_layer(tree, writer, compression="gzip", source_date_epoch=0))
        store.record_layer(infos[-1])
        shutil.rmtree(tree)
    config = ImageConfig(
        architecture="amd64", os="linux", rootfs=RootFS(diff_ids=tuple(i.diff_id for i in infos))
    )
    config_bytes = encode_json(config)
    manifest = Manifest(
        config=Descriptor(
            media_type=MEDIA_OCI_CONFIG, digest=store.put_blob(config_bytes), size=len(config_bytes)
        ),
        layers=tuple(i.descriptor for i in infos),
        media_type=MEDIA_OCI_MANIFEST,
    )
    return store.add_image(manifest, config, ["bench/image:v1"])


def oci_layout(store: Store, image: ImageRecord, directory: Path) -> Path:
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    for descriptor in (image.manifest.config, *image.manifest.layers):
        os.link(store.blob_path(descriptor.digest), blobs / descriptor.digest.split(":")[1])
    manifest = store.read_blob(image.manifest_digest)
    (blobs / image.manifest_digest.split(":")[1]).write_bytes(manifest)
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (directory / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": MEDIA_OCI_MANIFEST,
                        "digest": image.manifest_digest,
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": "v1"},
                    }
                ],
            }
        )
    )
    return directory


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def skopeo(*args: str) -> None:
    subprocess.run(["skopeo", "copy", "--quiet", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: a temp dir)")
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-registry-", dir=arguments.dir))
    options = RegistryOptions()
    times: dict[str, list[float]] = {
        "push slipway": [],
        "push skopeo": [],
        "pull slipway": [],
        "pull skopeo": [],
    }
    try:
        with Store.open(work / "source-root") as source:
            image = make_image(source, work / "make", arguments.size_mb, arguments.layers)
            size = sum(layer.size for layer in image.manifest.layers)
            print(f"image: {len(image.manifest.layers)} layers, {size / 1e6:.0f} MB of blobs")
            layout = oci_layout(source, image, work / "layout")
            for run in range(arguments.runs):
                order = ("slipway", "skopeo") if run % 2 == 0 else ("skopeo", "slipway")
                with registry(work / f"registry-{run}-a") as loaded:
                    push_image(
                        source, image, f"{loaded}/bench/image:v1", options=options
                    )  # the pulls' source
                    for tool in order:
                        with registry(work / f"registry-{run}-{tool}") as host:
                            (source.root / "registry-blobs.db").unlink(missing_ok=True)  # no mounts
                            if tool == "slipway":
                                spent = timed(
                                    lambda h=host: push_image(
                                        source, image, f"{h}/bench/image:v1", options=options
                                    )
                                )
                            else:
                                spent = timed(
                                    lambda h=host: skopeo(
                                        "--dest-tls-verify=false",
                                        f"oci:{layout}:v1",
                                        f"docker://{h}/bench/image:v1",
                                    )
                                )
                        times[f"push {tool}"].append(spent)
                    for tool in order:
                        target = work / f"pull-{run}-{tool}"
                        if tool == "slipway":
                            with Store.open(target) as fresh:
                                spent = timed(
                                    lambda f=fresh: pull_image(f, f"{loaded}/bench/image:v1", options=options)
                                )
                        else:
                            spent = timed(
                                lambda t=target: skopeo(
                                    "--src-tls-verify=false",
                                    f"docker://{loaded}/bench/image:v1",
                                    f"oci:{t}:v1",
                                )
                            )
                        times[f"pull {tool}"].append(spent)
                        shutil.rmtree(target)
                print(
                    f"run {run + 1}: "
                    + ", ".join(f"{name} {values[-1]:.2f}s" for name, values in times.items())
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for verb in ("push", "pull"):
        ours, theirs = statistics.median(times[f"{verb} slipway"]), statistics.median(times[f"{verb} skopeo"])
        print(
            f"{verb}: slipway median {ours:.2f}s ({size / ours / 1e6:.0f} MB/s), skopeo median {theirs:.2f}s "
            f"({size / theirs / 1e6:.0f} MB/s), slipway/skopeo {ours / theirs:.2f}"
        )


if __name__ == "__main__":
    main()
