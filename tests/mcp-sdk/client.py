"""The official MCP Python SDK (PyPI `mcp`) as a client of our MCP server.

Reads MCP_URL and ACCESS_TOKEN from the environment, initialises a session,
lists tools, calls `list_records`, and leaves (the SDK ends the session with a
DELETE). Prints one JSON object: the tools, the call's outcome, and every
warning the SDK logged (a refused session DELETE is logged as
"Session termination failed").
"""

import asyncio
import json
import logging
import os

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

warnings: list[str] = []


class Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            warnings.append(record.getMessage())


logging.getLogger("mcp").addHandler(Collect())
logging.getLogger("mcp").setLevel(logging.DEBUG)


async def main() -> None:
    url = os.environ["MCP_URL"]
    token = os.environ["ACCESS_TOKEN"]
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with http:
        async with streamable_http_client(url, http_client=http) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                result = await session.call_tool("list_records", {})
    text = "".join(c.text for c in result.content if getattr(c, "text", None))
    print(
        json.dumps(
            {
                "tools": sorted(t.name for t in tools.tools),
                "is_error": bool(result.is_error),
                "text": text,
                "warnings": warnings,
            }
        )
    )


asyncio.run(main())
