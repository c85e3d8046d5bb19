// The official MCP TypeScript SDK (npm `@modelcontextprotocol/sdk`) against our
// MCP server and its authorization server: the SDK's own discovery and schema
// validation of the protected resource and authorization server metadata, a
// session with a tool call and its termination (DELETE), and a request from a
// foreign Origin. Reads MCP_URL, ISSUER and ACCESS_TOKEN; prints one JSON line.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { discoverOAuthServerInfo } from "@modelcontextprotocol/sdk/client/auth.js";

const { MCP_URL, ACCESS_TOKEN } = process.env;
const out = {};
const step = (s) => console.error(`step: ${s}`);

step("discovery");
const info = await discoverOAuthServerInfo(MCP_URL);
out.authorization_server = info.authorizationServerUrl;
out.resource = info.resourceMetadata?.resource ?? null;
out.metadata_issuer = info.authorizationServerMetadata?.issuer ?? null;
out.grant_types = info.authorizationServerMetadata?.grant_types_supported ?? null;

const connect = async (headers) => {
  const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), { requestInit: { headers } });
  const client = new Client({ name: "gatehouse-sdk-peer", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
};

step("connect");
const { client, transport } = await connect({ Authorization: `Bearer ${ACCESS_TOKEN}` });
step("list tools");
out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
step("call tool");
const result = await client.callTool({ name: "list_records", arguments: {} });
out.is_error = Boolean(result.isError);
out.text = result.content.map((c) => c.text ?? "").join("");
step("terminate");
try {
  await transport.terminateSession();
  out.terminated = true;
} catch (e) {
  out.terminated = false;
  out.terminate_error = String(e);
}
step("close");
await client.close();
step("foreign origin");

try {
  await connect({ Authorization: `Bearer ${ACCESS_TOKEN}`, Origin: "http://evil.example.com" });
  out.foreign_origin = "served";
} catch (e) {
  out.foreign_origin = String(e);
}
console.log(JSON.stringify(out));
// A refused transport may keep a socket open; the answer is printed.
process.exit(0);
