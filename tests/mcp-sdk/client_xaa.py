"""The official MCP Python SDK (PyPI `mcp`) as a cross-app-access client.

Its `IdentityAssertionOAuthProvider` (SEP-990 leg 2) redeems an ID-JAG at the
MCP server's authorization server, configured (not discovered) by issuer, and
authorizes the MCP session with the access token. Leg 1 — the RFC 8693 token
exchange at the enterprise IdP — is the app's own, as the SDK leaves it: the
callback below does it against our IdP with the person's ID token, for the
audience and resource the SDK hands it.

Reads MCP_URL, IDP, ID_TOKEN, IDP_CLIENT_ID, IDP_CLIENT_SECRET, AS_ISSUER,
AS_CLIENT_ID, AS_CLIENT_SECRET and SCOPE. Prints one JSON object: what the
callback was asked for, the tools, the call's outcome, and every warning the
SDK logged. No token or secret is printed.
"""

import asyncio
import json
import os

import httpx2
from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider
from mcp.shared._httpx_utils import create_mcp_http_client

from peer import list_and_call


class MemoryTokens:
    """Tokens held for this run only."""

    def __init__(self) -> None:
        self.tokens = None
        self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens) -> None:
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info) -> None:
        self.client = client_info


async def main() -> None:
    env = os.environ
    asked: list[dict[str, str]] = []

    async def id_jag(audience: str, resource: str) -> str:
        asked.append({"audience": audience, "resource": resource})
        async with httpx2.AsyncClient() as http:
            meta = (await http.get(f"{env['IDP']}/.well-known/openid-configuration")).json()
            r = await http.post(
                meta["token_endpoint"],
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                    "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
                    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                    "subject_token": env["ID_TOKEN"],
                    "audience": audience,
                    "resource": resource,
                    "scope": env["SCOPE"],
                    "client_id": env["IDP_CLIENT_ID"],
                    "client_secret": env["IDP_CLIENT_SECRET"],
                },
            )
            r.raise_for_status()
            return r.json()["access_token"]

    provider = IdentityAssertionOAuthProvider(
        server_url=env["MCP_URL"],
        storage=MemoryTokens(),
        client_id=env["AS_CLIENT_ID"],
        client_secret=env["AS_CLIENT_SECRET"],
        issuer=env["AS_ISSUER"],
        assertion_provider=id_jag,
        scope=env["SCOPE"],
    )
    summary = await list_and_call(env["MCP_URL"], create_mcp_http_client(auth=provider))
    print(json.dumps({"asked": asked, **summary}))


asyncio.run(main())
