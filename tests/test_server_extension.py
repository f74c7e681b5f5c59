"""The Jupyter server extension: kernel websockets send each message at once (TCP_NODELAY), so
a cell run while the copilot streams is not held back behind the stream's frames."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time
import urllib.request

import websocket

from servers import _serve, free_port

# A connection class configured by the "user": it logs whether its websocket sends without
# delay when it connects (after the extension's wrapper has run, since that subclasses it).
PROBE = """
import socket
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

class Probe(ZMQChannelsWebsocketConnection):
    def connect(self):
        sock = self.websocket_handler.ws_connection.stream.socket
        nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        self.log.warning("probe: TCP_NODELAY=%d", nodelay)
        return super().connect()
"""

TOKEN = "test-token"


def nodelay_of_a_kernel_websocket(tmp: pathlib.Path, *, extension: bool) -> str:
    """Start a Jupyter server, open a kernel's websocket, and return what the probe logged."""
    (tmp / "probe.py").write_text(PROBE)
    config = tmp / "config"
    config.mkdir()
    if not extension:  # the user's own configuration turns it off
        (config / "jupyter_server_config.json").write_text(
            json.dumps({"ServerApp": {"jpserver_extensions": {"copilot_widget_server": False}}})
        )
    env = {
        "PATH": str(pathlib.Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(tmp),
        "PYTHONPATH": str(tmp),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(tmp / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
    }
    port = free_port()
    argv = [
        sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}",
        "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={tmp}", "--ServerApp.kernel_websocket_connection_class=probe.Probe",
    ]  # fmt: skip
    for url in _serve(argv, tmp / "server", port, env, "jupyter", health="/api"):
        headers = {"Authorization": f"token {TOKEN}"}
        request = urllib.request.Request(f"{url}/api/kernels", b"{}", headers, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            kernel = json.load(response)["id"]
        ws_url = f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels?token={TOKEN}"
        socket = websocket.create_connection(ws_url, timeout=30)
        log = tmp / "jupyter.log"
        deadline = time.monotonic() + 30
        while "probe: TCP_NODELAY=" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        socket.close()
        return log.read_text()
    raise AssertionError("unreachable")


def test_the_installed_extension_sets_no_delay_on_kernel_websockets(tmp_path: pathlib.Path) -> None:
    log = nodelay_of_a_kernel_websocket(tmp_path, extension=True)
    assert "copilot_widget_server: kernel websockets send without delay" in log
    assert "probe: TCP_NODELAY=1" in log, log


def test_without_the_extension_tornado_delays_small_messages(tmp_path: pathlib.Path) -> None:
    """What the extension changes: Tornado leaves Nagle's algorithm on."""
    log = nodelay_of_a_kernel_websocket(tmp_path, extension=False)
    assert "probe: TCP_NODELAY=0" in log, log


def test_jupyter_lists_the_extension_as_enabled_and_valid() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    out = listed.stdout + listed.stderr
    assert "copilot_widget_server \x1b[32menabled" in out or "copilot_widget_server enabled" in out
    assert "copilot_widget_server  \x1b[32mOK" in out or "copilot_widget_server  OK" in out


def test_voila_on_its_own_takes_the_connection_class_by_name() -> None:
    from jupyter_server.services.kernels.connection.channels import (
        ZMQChannelsWebsocketConnection,
    )

    import copilot_widget_server

    connection = copilot_widget_server.KernelConnection
    assert issubclass(connection, ZMQChannelsWebsocketConnection)
    assert connection.sends_without_delay
    assert copilot_widget_server.without_delay(connection) is connection
