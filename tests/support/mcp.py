"""A real MCP server (official ``mcp`` SDK 2.x, streamable HTTP) in a subprocess on loopback."""

from __future__ import annotations

import subprocess
import sys

from tests.support.net import free_port, wait_port
from tests.support.servers import stop_process

_SERVER = """
import sys
from mcp.server.mcpserver import MCPServer

server = MCPServer("experio-test-mcp")

@server.tool()
def echo(text: str) -> str:
    return text

server.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
"""


class MCPServerProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self) -> MCPServerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, timeout=30)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            stop_process(self.proc)
