"""Blob transfers in a thread pool: the first failure cancels the rest, and nothing outlives the call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

from slipway.registry.client import RegistryClient

T = TypeVar("T")


def transfer_all(
    client: RegistryClient, items: Sequence[T], transfer: Callable[[T], None], max_parallel: int
) -> None:
    if not items:
        return
    pool = ThreadPoolExecutor(
        max_workers=max(1, min(max_parallel, len(items))), thread_name_prefix="slipway-blob"
    )
    try:
        futures = [pool.submit(transfer, item) for item in items]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            error = future.exception()
            if error is not None:
                raise error
    except BaseException:
        client.cancel()  # the other transfers stop at their next chunk; partial blobs are discarded
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
