// The IdP's login form in a real browser (Debian's chromium, driven by
// playwright-core): a person signs in and the browser is sent back with a code;
// a form posted to the IdP from another site (127.0.0.2 is another site than
// 127.0.0.1) is refused, though the browser holds a login cookie from a page it
// loaded before. Starts `gatehouse-demo` (GATEHOUSE_DEMO_BIN) for the IdP.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { createHash, randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const fail = (msg) => {
  console.error(`FAIL: ${msg}`);
  process.exitCode = 1;
};

const demo = spawn(process.env.GATEHOUSE_DEMO_BIN, ["--listen", "127.0.0.1:0"], {
  stdio: ["ignore", "pipe", "ignore"],
});
const info = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error("the demo printed no line in 60 s")), 60_000);
  createInterface({ input: demo.stdout }).once("line", (l) => {
    clearTimeout(t);
    resolve(JSON.parse(l));
  });
});
// The console's public client, as the desktop console signs in: the system
// browser is sent back to a loopback listener on any port (RFC 8252).
const alice = info.users.find((u) => u.username === "alice");
let back = null;
const callback = createServer((req, res) => {
  const u = new URL(req.url, "http://127.0.0.1");
  if (u.pathname === "/callback") back = u;
  res.setHeader("content-type", "text/plain");
  res.end("back at the app");
});
await new Promise((r) => callback.listen(0, "127.0.0.1", r));
const redirectUri = `http://127.0.0.1:${callback.address().port}/callback`;
const b64url = (b) => b.toString("base64url");
const verifier = b64url(randomBytes(32));
const state = b64url(randomBytes(16));
const authorize = new URL(`${info.idp}/authorize`);
for (const [k, v] of Object.entries({
  response_type: "code",
  client_id: info.console_client_id,
  redirect_uri: redirectUri,
  scope: "openid email gatehouse:admin",
  state,
  nonce: b64url(randomBytes(16)),
  code_challenge: b64url(createHash("sha256").update(verifier).digest()),
  code_challenge_method: "S256",
})) {
  authorize.searchParams.set(k, v);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let attacker;
try {
  const page = await (await browser.newContext()).newPage();
  let origin = "(none)";
  page.on("request", (r) => {
    if (r.method() === "POST" && r.url().startsWith(`${info.idp}/authorize`)) {
      origin = r.headers()["origin"] ?? "(none)";
    }
  });
  await page.goto(authorize.toString());
  if (process.env.SCREENSHOT_DIR) {
    await page.screenshot({ path: `${process.env.SCREENSHOT_DIR}/browser-login.png` });
  }
  await page.fill("input[name=username]", "alice");
  await page.fill("input[name=password]", alice.password);
  await Promise.all([page.waitForURL(`${redirectUri}**`), page.click("button[type=submit]")]);
  if (!back?.searchParams.get("code")) fail(`no code after signing in: ${back}`);
  if (back?.searchParams.get("state") !== state) fail("state did not come back");
  if (back?.searchParams.get("iss") !== info.idp) fail("iss did not come back");
  console.log(`signed in in a real browser (the form's POST carried Origin: ${origin})`);

  // Another site posts the login form; the browser has a login cookie from
  // loading the page, and the attacker even sends a form token of its own.
  await page.goto(authorize.toString());
  const token = await fetch(authorize).then((r) => r.text()).then((h) => /name="form_token" value="([^"]+)"/.exec(h)[1]);
  const fields = Object.fromEntries(authorize.searchParams);
  Object.assign(fields, { username: "alice", password: alice.password, form_token: token });
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${String(v).replaceAll('"', "&quot;")}">`)
    .join("");
  attacker = createServer((_, res) => {
    res.setHeader("content-type", "text/html");
    res.end(`<form method="post" action="${info.idp}/authorize">${inputs}</form><script>document.forms[0].submit()</script>`);
  });
  await new Promise((r) => attacker.listen(0, "127.0.0.2", r));
  const evil = `http://127.0.0.2:${attacker.address().port}/`;
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(`${info.idp}/authorize`) && r.request().method() === "POST"),
    page.goto(evil),
  ]);
  if (resp.status() !== 403) fail(`a cross-site login POST answered ${resp.status()}, not 403`);
  if (resp.headers()["location"]) fail("a cross-site login POST was redirected with a code");
  console.log(`a login form posted from ${evil} was refused: ${resp.status()}`);
} finally {
  await browser.close();
  attacker?.close();
  callback.close();
  demo.kill();
}
