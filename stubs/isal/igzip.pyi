import gzip
from typing import BinaryIO

class IGzipFile(gzip.GzipFile):
    def __init__(
        self,
        filename: str | bytes | None = None,
        mode: str | None = None,
        compresslevel: int = ...,
        fileobj: BinaryIO | None = None,
        mtime: float | None = None,
    ) -> None: ...
