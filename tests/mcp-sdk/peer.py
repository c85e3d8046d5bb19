"""What both Python peers share: every warning the official SDK logged during
the run (a refused session DELETE, a failed token refresh), and one MCP session
that lists the tools and calls `list_records`, summed up as a JSON-ready dict."""

import logging

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

warnings: list[str] = []


class _Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            warnings.append(record.getMessage())


logging.getLogger("mcp").addHandler(_Collect())
logging.getLogger("mcp").setLevel(logging.DEBUG)


async def list_and_call(url: str, http: httpx2.AsyncClient) -> dict:
    """Opens a session on `http`, lists tools, calls `list_records`, leaves."""
    async with http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                result = await session.call_tool("list_records", {})
    return {
        "tools": sorted(t.name for t in tools.tools),
        "is_error": bool(result.is_error),
        "text": "".join(c.text for c in result.content if getattr(c, "text", None)),
        "warnings": warnings,
    }
