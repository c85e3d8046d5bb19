"""The official MCP Python SDK (PyPI `mcp`) as a client of our MCP server.

Reads MCP_URL and ACCESS_TOKEN from the environment, initialises a session,
lists tools, calls `list_records`, and leaves (the SDK ends the session with a
DELETE). Prints one JSON object: the tools, the call's outcome, and every
warning the SDK logged (a refused session DELETE is logged as
"Session termination failed").
"""

import asyncio
import json
import os

from mcp.shared._httpx_utils import create_mcp_http_client

from peer import list_and_call


async def main() -> None:
    token = os.environ["ACCESS_TOKEN"]
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    print(json.dumps(await list_and_call(os.environ["MCP_URL"], http)))


asyncio.run(main())
