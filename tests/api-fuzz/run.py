"""Schema-driven fuzzing of the admin API with schemathesis (PyPI) against the
document the IdP serves: starts `gatehouse-demo`, signs an admin in through the
console's client (login form, PKCE), then lets schemathesis call every
operation with generated input. Checks: no 5xx, every response matches its
documented status, media type and schema. Usage:
    run.py DEMO_BINARY SCHEMATHESIS [EXAMPLES_PER_OPERATION]
"""

import base64
import hashlib
import html.parser
import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import urllib.parse

demo_bin, schemathesis = sys.argv[1], sys.argv[2]
examples = sys.argv[3] if len(sys.argv) > 3 else "20"


class Hidden(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")


def request(base, method, path, body=None, headers=None):
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    return r.status, dict(r.getheaders()), r.read()


def admin_token(info, username):
    user = next(u for u in info["users"] if u["username"] == username)
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = "http://127.0.0.1:53123/callback"
    q = urllib.parse.urlencode({
        "response_type": "code", "client_id": info["console_client_id"], "redirect_uri": redirect,
        "scope": "openid gatehouse:admin", "state": "s", "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
    status, headers, page = request(info["idp"], "GET", f"/authorize?{q}")
    assert status == 200, status
    cookie = headers["set-cookie"].split(";")[0]
    form = Hidden()
    form.feed(page.decode())
    fields = dict(form.fields, username=username, password=user["password"])
    status, headers, _ = request(info["idp"], "POST", "/authorize", urllib.parse.urlencode(fields),
                                 {"content-type": "application/x-www-form-urlencoded", "cookie": cookie})
    assert status == 303, status
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(headers["location"]).query)["code"][0]
    status, _, body = request(info["idp"], "POST", "/token", urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
        "code_verifier": verifier, "client_id": info["console_client_id"],
    }), {"content-type": "application/x-www-form-urlencoded"})
    assert status == 200, body
    return json.loads(body)["access_token"]


demo = subprocess.Popen([demo_bin, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
try:
    info = json.loads(demo.stdout.readline())
    token = admin_token(info, "judy")
    run = subprocess.run([
        schemathesis, "run", f"{info['idp']}/admin/v1/openapi.json",
        "--url", f"{info['idp']}/admin/v1",
        "-H", f"Authorization: Bearer {token}",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        "--max-examples", examples,
        "--exclude-path", "/events",
        "--generation-deterministic",
        "--workers", "2",
        "--request-timeout", "30",
    ], env=dict(os.environ, NO_COLOR="1"), cwd=tempfile.mkdtemp())  # its cache stays out of the checkout
    sys.exit(run.returncode)
finally:
    demo.kill()
