"""`slipway run`: one container from an image, on a throwaway writable overlay, through the executor."""

from __future__ import annotations

import logging
import secrets
import threading

from slipway.image.platforms import image_platform
from slipway.runner.request import RunRequest, bind_mounts, plan_process
from slipway.store import Store
from slipway.worker.emulation import check_runnable
from slipway.worker.executor import ContainerSpec, Executor, OutputSink
from slipway.worker.mount_plan import Overlay
from slipway.worker.runtime import Runtime
from slipway.worker.snapshots import mounted

__all__ = ["run_container"]

log = logging.getLogger(__name__)


def run_container(
    request: RunRequest,
    *,
    store: Store,
    runtime: Runtime,
    on_output: OutputSink | None = None,
    timeout: float | None = None,
) -> int:
    """Run `request` in the foreground with this process's stdio; the container's exit code.

    The root is a fresh upper dir over the image's snapshots, in the store's tmp/, gone afterwards:
    containers are not kept (--rm is implied). `on_output(fd, chunk)`: capture stdout and stderr instead
    (stdin is /dev/null). `timeout`: seconds after which the container is killed (BuildCancelled).
    """
    image = store.images.resolve(request.image, request.platform)
    check_runnable(image_platform(image.config))  # another architecture's programs need an emulator
    process = plan_process(request, image.config.config)
    for volume in request.volumes:
        if not volume.source.exists():
            volume.source.mkdir(parents=True)  # as Docker does for a missing bind source
    hostname = request.hostname or secrets.token_hex(6)
    # The hold keeps gc from taking the image's snapshots while the container runs on them; unlike the gc
    # lock, it keeps no prune waiting. Taken inside `lease()`, so no gc comes between the unpack and it.
    with store.leases.hold(image.id) as hold, store.temp_dir("run") as work:
        with store.lease():
            snapshot = store.snapshots.unpack_image(image)
            if snapshot is not None:
                hold.add(snapshot.id)
        upper, overlay_work, rootfs = work / "upper", work / "work", work / "rootfs"
        upper.mkdir()
        overlay_work.mkdir()
        # The image's tree with an upper dir of the container's own: it is not kept, so it is no snapshot.
        view = store.snapshots.view(snapshot.id if snapshot else None)
        plan = Overlay(view.lowers, upper=upper, work=overlay_work)
        with mounted(plan, rootfs, ledger=store.leases):
            spec = ContainerSpec(
                process=process,
                rootfs=rootfs,
                network=request.network,
                hostname=hostname,
                mounts=bind_mounts(request.volumes),
            )
            log.debug("run %s: %s", request.image, process.args)
            executor = Executor(runtime, work / "bundles", ledger=store.leases)
            if on_output is None and timeout is None:
                return executor.run(
                    spec,
                    stdio="inherit",
                    stdin="inherit" if request.interactive else "null",
                    stop_timeout=request.stop_timeout,
                )
            timer = threading.Timer(timeout, executor.kill_all) if timeout is not None else None
            if timer is not None:
                timer.start()
            try:
                return executor.run(spec, on_output=on_output, stdio="capture")
            finally:
                if timer is not None:
                    timer.cancel()
