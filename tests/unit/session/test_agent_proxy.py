"""The relay a RUN's ssh mount gets: read-only, one agent connection per client connection, any path length."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from slipway.session.agent_proxy import AgentProxy, connect_unix, is_agent, read_message


class FakeAgent:
    """An agent answering every request with IDENTITIES_ANSWER (no keys); records requests and connections."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[int] = []
        self.connections = 0
        self._listener = socket.socket(socket.AF_UNIX)
        self._listener.bind(str(path))
        self._listener.listen()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            while (message := read_message(connection)) is not None:
                self.requests.append(message[0])
                connection.sendall(struct.pack(">IBI", 5, 12, 0))

    def close(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[FakeAgent]:
    served = FakeAgent(tmp_path / "agent.sock")
    yield served
    served.close()


def ask(path: Path, message_type: int) -> bytes | None:
    with connect_unix(path) as connection:
        connection.sendall(struct.pack(">IB", 1, message_type))
        return read_message(connection)


def test_relay_lists_keys_and_refuses_changes(agent: FakeAgent, tmp_path: Path) -> None:
    # A directory name long enough that the socket's path does not fit a sockaddr_un.
    directory = tmp_path / ("d" * 120)
    directory.mkdir()
    with AgentProxy(
        agent.path, directory / "relay.sock", uid=os.getuid(), gid=os.getgid(), mode=0o741
    ) as path:
        info = os.stat(path)
        assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o741
        assert ask(path, 11) == bytes([12, 0, 0, 0, 0])  # REQUEST_IDENTITIES: the agent's answer
        for refused in (17, 18, 19, 22, 27):  # add, remove, remove all, lock, extension
            assert ask(path, refused) == bytes([5])  # SSH_AGENT_FAILURE, from the relay itself
        assert ask(path, 11) is not None
    assert agent.requests == [11, 11]
    assert not (directory / "relay.sock").exists()


def test_each_request_is_one_agent_connection(agent: FakeAgent, tmp_path: Path) -> None:
    with AgentProxy(
        agent.path, tmp_path / "relay.sock", uid=os.getuid(), gid=os.getgid(), mode=0o600
    ) as path:
        for _ in range(3):
            ask(path, 11)
        with connect_unix(path) as connection:  # two requests on one client connection
            for _ in range(2):
                connection.sendall(struct.pack(">IB", 1, 11))
                assert read_message(connection) is not None
        assert agent.connections == 5  # one agent connection per request
        idle = connect_unix(path)  # a client still connected when the step ends is cut off
    with contextlib.suppress(ConnectionResetError):  # cut off before the relay accepted it
        assert idle.recv(1) == b""
    idle.close()


def test_is_agent(agent: FakeAgent, tmp_path: Path) -> None:
    assert is_agent(agent.path) is None
    silent = tmp_path / "silent.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(silent))
        assert is_agent(silent) is not None  # refused: no one listens
