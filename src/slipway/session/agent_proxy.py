"""An SSH agent lent to one RUN: a socket of its own that relays to the caller's agent, read-only.

The RUN gets a fresh socket (bind-mounted at its target, owned and moded as the mount asks), never the
agent's own: what the container can reach ends with the step. As BuildKit's forwarder, the relay lets a RUN
list the agent's keys and ask for signatures, nothing else: adding, removing or locking keys and extensions
are refused with SSH_AGENT_FAILURE. Each request is one connection to the agent, closed before its reply is
passed on: the agent holds no connection for a client that has its answer (BuildKit's
testSSHFileDescriptorsClosed), however late the relay's thread notices that client leave.

The agent protocol (draft-miller-ssh-agent): a message is a 4-byte big-endian length, then a type byte and
its body; a client sends one request and reads one reply.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

__all__ = ["AgentProxy", "connect_unix", "is_agent"]

log = logging.getLogger(__name__)

AGENT_FAILURE = 5
REQUEST_IDENTITIES = 11
IDENTITIES_ANSWER = 12
SIGN_REQUEST = 13
ALLOWED_REQUESTS = frozenset({REQUEST_IDENTITIES, SIGN_REQUEST})
MAX_MESSAGE_BYTES = 256 * 1024  # OpenSSH's AGENT_MAX_LEN
PROBE_TIMEOUT_SECONDS = 5.0
_SUN_PATH_MAX = 107  # sockaddr_un's sun_path, less its NUL


def connect_unix(path: Path, timeout: float | None = None) -> socket.socket:
    """A connection to the unix socket at `path`, however long the path (through its directory's fd)."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(timeout)
    try:
        with _short_name(path) as name:
            connection.connect(name)
    except BaseException:
        connection.close()
        raise
    return connection


def is_agent(path: Path) -> str | None:
    """None if `path` answers as an SSH agent (it lists its keys); else what went wrong."""
    try:
        with connect_unix(path, timeout=PROBE_TIMEOUT_SECONDS) as connection:
            connection.sendall(_frame(bytes([REQUEST_IDENTITIES])))
            reply = read_message(connection)
    except OSError as err:
        return str(err.strerror or err)
    if reply is None or reply[:1] != bytes([IDENTITIES_ANSWER]):
        return "it does not answer the SSH agent protocol"
    return None


def read_message(connection: socket.socket) -> bytes | None:
    """One agent message (type byte and body); None at end of stream or for a message too long."""
    header = _read_exactly(connection, 4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    if length == 0 or length > MAX_MESSAGE_BYTES:
        return None
    return _read_exactly(connection, length)


class AgentProxy:
    """A listening socket at `socket_path` relaying to the agent at `upstream` while the block runs."""

    def __init__(self, upstream: Path, socket_path: Path, *, uid: int, gid: int, mode: int) -> None:
        self._upstream = upstream
        self._path = socket_path
        self._owner = (uid, gid, mode & 0o777)
        self._listener: socket.socket | None = None
        self._wake_read, self._wake_write = -1, -1
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> Path:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with _short_name(self._path) as name:
                listener.bind(name)
            uid, gid, mode = self._owner
            os.chown(self._path, uid, gid, follow_symlinks=False)
            os.chmod(self._path, mode)
            listener.listen(16)
        except BaseException:
            listener.close()
            raise
        self._listener = listener
        self._wake_read, self._wake_write = os.pipe()
        self._start(self._accept_loop, listener)
        return self._path

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._listener is None:
            return
        os.write(self._wake_write, b"x")
        self._threads[0].join()  # the accept loop: no connection comes after this
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            relays = self._threads[1:]
        for thread in relays:
            thread.join()
        self._listener.close()
        self._listener = None
        os.close(self._wake_read)
        os.close(self._wake_write)
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    def _start(self, target: Callable[[socket.socket], None], argument: socket.socket) -> None:
        thread = threading.Thread(target=target, args=(argument,), daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self, listener: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(self._wake_read, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if self._wake_read in ready:
                    return
                try:
                    client, _ = listener.accept()
                except OSError as err:
                    log.debug("ssh agent proxy %s: accept: %s", self._path, err)
                    continue
                with self._lock:
                    self._connections.add(client)
                self._start(self._relay, client)

    def _relay(self, client: socket.socket) -> None:
        try:
            with client:
                while (request := read_message(client)) is not None:
                    if request[0] not in ALLOWED_REQUESTS:
                        client.sendall(_frame(bytes([AGENT_FAILURE])))
                        continue
                    reply = self._ask_agent(request)
                    if reply is None:
                        return
                    client.sendall(_frame(reply))
        except OSError as err:
            log.debug("ssh agent proxy %s: %s", self._path, err)
        finally:
            with self._lock:
                self._connections.discard(client)

    def _ask_agent(self, request: bytes) -> bytes | None:
        with connect_unix(self._upstream) as agent:
            with self._lock:
                self._connections.add(agent)
            try:
                agent.sendall(_frame(request))
                return read_message(agent)
            finally:
                with self._lock:
                    self._connections.discard(agent)


def _frame(message: bytes) -> bytes:
    return struct.pack(">I", len(message)) + message


def _read_exactly(connection: socket.socket, count: int) -> bytes | None:
    data = bytearray()
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


@contextlib.contextmanager
def _short_name(path: Path) -> Iterator[str]:
    """A name for `path` that fits sockaddr_un: the path itself, or one through its directory's fd."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        yield str(path)
        return
    directory = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{directory}/{path.name}"
    finally:
        os.close(directory)
