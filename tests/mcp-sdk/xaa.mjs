// The official MCP TypeScript SDK v2 (npm `@modelcontextprotocol/client`) as a
// full Enterprise-Managed Authorization (XAA) client of our IdP and MCP server,
// with panva's `jose` (npm) checking every token against our published JWKS:
//
// 1. jose verifies the person's ID token (issuer, audience = the AI client).
// 2. The SDK's CrossAppAccessProvider meets the MCP server's 401, discovers the
//    authorization server (RFC 9728) and calls back for an ID-JAG; the callback
//    uses the SDK's discoverAndRequestJwtAuthGrant (RFC 8414 discovery of the
//    IdP, RFC 8693 token exchange) and jose verifies the ID-JAG (typ, issuer,
//    audience = that authorization server, resource, client_id).
// 3. The SDK redeems it (RFC 7523 jwt-bearer, client_secret_basic) and calls a
//    tool.
// 4. jose refuses each token where it was not meant to be used: the ID-JAG as
//    an ID token, the ID token as an ID-JAG, either for another audience.
// 5. ID-JAGs built by jose, not by us, with the real one's claims: signed by a
//    key not in our JWKS (same kid) and unsecured (`alg: none`), presented
//    through the SDK's exchangeJwtAuthGrant — our AS refuses both.
//
// Reads MCP_URL, IDP, ID_TOKEN, IDP_CLIENT_ID, IDP_CLIENT_SECRET, AS_CLIENT_ID,
// AS_CLIENT_SECRET and AS_ISSUER; prints one JSON line. No token or
// secret is printed: only claims and outcomes.
import {
  Client,
  CrossAppAccessProvider,
  StreamableHTTPClientTransport,
  discoverAndRequestJwtAuthGrant,
  exchangeJwtAuthGrant,
} from "@modelcontextprotocol/client";
import { SignJWT, UnsecuredJWT, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, generateKeyPair, jwtVerify } from "jose";

const env = process.env;
const out = { refused: {} };
const step = (s) => console.error(`step: ${s}`);
const refusal = async (f) => {
  try {
    await f();
    return "accepted";
  } catch (e) {
    return e.code ?? String(e);
  }
};

step("IdP metadata and JWKS");
const meta = await (await fetch(new URL("/.well-known/openid-configuration", env.IDP))).json();
const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
const algorithms = meta.id_token_signing_alg_values_supported;

step("verify the ID token");
const idToken = await jwtVerify(env.ID_TOKEN, jwks, {
  issuer: env.IDP,
  audience: env.IDP_CLIENT_ID,
  algorithms,
  requiredClaims: ["sub", "iat", "exp"],
});
out.id_token = { sub: idToken.payload.sub, typ: idToken.protectedHeader.typ ?? null };

let jag;
const provider = new CrossAppAccessProvider({
  clientId: env.AS_CLIENT_ID,
  clientSecret: env.AS_CLIENT_SECRET,
  expectedIssuer: env.AS_ISSUER,
  assertion: async (ctx) => {
    step("token exchange (SDK)");
    out.context = { authorization_server: ctx.authorizationServerUrl, resource: ctx.resourceUrl, scope: ctx.scope ?? null };
    const grant = await discoverAndRequestJwtAuthGrant({
      idpUrl: env.IDP,
      audience: ctx.authorizationServerUrl,
      resource: ctx.resourceUrl,
      idToken: env.ID_TOKEN,
      clientId: env.IDP_CLIENT_ID,
      clientSecret: env.IDP_CLIENT_SECRET,
      // What the SDK chose from the server's 401 (its `scope` comes before
      // `scopes_supported` in the MCP specification's scope selection).
      scope: ctx.scope,
      fetchFn: ctx.fetchFn,
    });
    jag = grant.jwtAuthGrant;
    out.exchange = { expires_in: grant.expiresIn ?? null, scope: grant.scope ?? null };
    step("verify the ID-JAG");
    const v = await jwtVerify(jag, jwks, {
      issuer: env.IDP,
      audience: ctx.authorizationServerUrl,
      typ: "oauth-id-jag+jwt",
      algorithms,
      requiredClaims: ["jti", "sub", "iat", "exp"],
    });
    out.id_jag = {
      typ: v.protectedHeader.typ,
      sub: v.payload.sub,
      client_id: v.payload.client_id,
      resource: v.payload.resource,
      scope: v.payload.scope,
    };
    return jag;
  },
});

step("connect (401 → discovery → exchange → redemption)");
const transport = new StreamableHTTPClientTransport(new URL(env.MCP_URL), { authProvider: provider });
const client = new Client({ name: "gatehouse-xaa-peer", version: "1.0.0" });
await client.connect(transport);
out.access_token_type = provider.tokens()?.token_type ?? null;
out.tools = (await client.listTools()).tools.map((t) => t.name).sort();
const result = await client.callTool({ name: "list_records", arguments: {} });
out.is_error = Boolean(result.isError);
out.text = result.content.map((c) => c.text ?? "").join("");
await client.close();

step("each token refused where it was not meant to be used");
const elsewhere = "https://elsewhere.example.com";
out.refused.id_jag_as_id_token = await refusal(() =>
  jwtVerify(jag, jwks, { issuer: env.IDP, audience: env.IDP_CLIENT_ID, algorithms }),
);
out.refused.id_token_as_id_jag = await refusal(() =>
  jwtVerify(env.ID_TOKEN, jwks, { issuer: env.IDP, typ: "oauth-id-jag+jwt", algorithms }),
);
out.refused.id_jag_other_audience = await refusal(() =>
  jwtVerify(jag, jwks, { issuer: env.IDP, audience: elsewhere, typ: "oauth-id-jag+jwt", algorithms }),
);
out.refused.id_jag_other_issuer = await refusal(() =>
  jwtVerify(jag, jwks, { issuer: elsewhere, typ: "oauth-id-jag+jwt", algorithms }),
);
out.refused.id_jag_alg_outside_list = await refusal(() =>
  jwtVerify(jag, jwks, { algorithms: ["HS256"] }),
);

step("ID-JAGs built by jose are refused by our AS");
const asMeta = await (await fetch(new URL("/.well-known/oauth-authorization-server", env.AS_ISSUER))).json();
const claims = { ...decodeJwt(jag), jti: crypto.randomUUID() };
const header = decodeProtectedHeader(jag);
const { privateKey } = await generateKeyPair(header.alg);
const forged = {
  foreign_key: await new SignJWT(claims).setProtectedHeader({ alg: header.alg, typ: header.typ, kid: header.kid }).sign(privateKey),
  unsecured: new UnsecuredJWT(claims).encode(),
};
out.forged = {};
for (const [name, forgedJag] of Object.entries(forged)) {
  out.forged[name] = await exchangeJwtAuthGrant({
    tokenEndpoint: asMeta.token_endpoint,
    jwtAuthGrant: forgedJag,
    clientId: env.AS_CLIENT_ID,
    clientSecret: env.AS_CLIENT_SECRET,
  }).then(
    () => "accepted",
    (e) => String(e.message),
  );
}
console.log(JSON.stringify(out));
process.exit(0);
