from typing import BinaryIO

# Binary modes only ("rb", "wb"): the text modes, which return a TextIOWrapper, are not used.
def open(
    filename: str | bytes | BinaryIO,
    mode: str = "rb",
    compresslevel: int = ...,
    encoding: None = None,
    errors: None = None,
    newline: None = None,
    *,
    threads: int = 1,
    block_size: int = ...,
) -> BinaryIO: ...
