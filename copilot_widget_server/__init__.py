"""Jupyter server extension of copilot-widget: kernel messages leave the server at once.

Tornado's websockets keep Nagle's algorithm on, so a small message written while earlier ones
wait for their acknowledgement is held until it comes, and browsers acknowledge late (up to
40 ms, longer on some systems). While the copilot streams an answer, frames flow all the time:
every cell the user runs meanwhile then reaches the page some 40 ms late, four times a trivial
cell's round trip. TCP_NODELAY on the kernels' websockets (tornado's `set_nodelay`, its own
advice for latency-sensitive websockets) sends each message at once.

The extension is enabled when the package is installed (a file in
`etc/jupyter/jupyter_server_config.d`). It lives apart from `copilot_widget`, whose import
(the openai client, the widget) the server does not need. It wraps whichever connection class
the server is configured with.

Voilà run on its own (`voila app.ipynb`) loads no server extension; it takes the class on its
command line: `--Voila.kernel_websocket_connection_class=copilot_widget_server.KernelConnection`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KernelConnection", "without_delay"]


def __getattr__(name: str) -> Any:
    # Made on first use: jupyter_server is there in a Jupyter server, not in every environment.
    if name == "KernelConnection":
        try:
            from jupyter_server.services.kernels.connection.channels import (
                ZMQChannelsWebsocketConnection,
            )
        except ImportError as exc:
            raise AttributeError(
                "copilot_widget_server.KernelConnection is for a Jupyter server or Voilà: "
                "jupyter_server is not installed here"
            ) from exc
        globals()[name] = connection = without_delay(ZMQChannelsWebsocketConnection)
        return connection
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "copilot_widget_server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    settings = serverapp.web_app.settings
    base = settings.get("kernel_websocket_connection_class")
    if base is None:
        base = serverapp.kernel_websocket_connection_class
    settings["kernel_websocket_connection_class"] = without_delay(base)
    serverapp.log.info("copilot_widget_server: kernel websockets send without delay")


def without_delay(base: type) -> type:
    """`base` (a jupyter_server kernel websocket connection class) with TCP_NODELAY set on
    each websocket it connects; `base` itself when it already sets it."""
    if getattr(base, "sends_without_delay", False):
        return base

    class Connection(base):  # type: ignore[misc]
        sends_without_delay = True

        def connect(self) -> Any:
            self.websocket_handler.set_nodelay(True)
            return super().connect()

    Connection.__name__ = Connection.__qualname__ = f"{base.__name__}WithoutDelay"
    Connection.__module__ = __name__
    return Connection
