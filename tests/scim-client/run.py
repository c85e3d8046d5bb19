"""Drives Gatehouse's SCIM endpoint with third-party SCIM software from PyPI.

1. scim2-tester (python-scim) checks the server against RFC 7643/7644: discovery,
   then create / read / replace / delete of every resource type it discovers.
   Any result of status ERROR or CRITICAL fails the run.
2. scim2-client provisions the way a connector does (create a person, a group
   with them in it, look them up by userName and externalId, deactivate,
   delete), each step checked against what the server returns and what the
   admin API then reports.

Usage: run.py GATEHOUSE_DEMO_BINARY
"""

import json
import subprocess
import sys
import urllib.request

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Group, PatchOp, PatchOperation, SearchRequest, User
from scim2_tester import Status, check_server


def start_demo(binary):
    proc = subprocess.Popen([binary], stdout=subprocess.PIPE, text=True)
    # The demo prints one JSON line when it is ready (a contract others rely on).
    line = proc.stdout.readline()
    if not line:
        raise SystemExit("the demo exited before printing its JSON line")
    return proc, json.loads(line)


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def conformance(info):
    http = Client(base_url=info["scim_url"], headers={"Authorization": f"Bearer {info['scim_token']}"})
    client = SyncSCIMClient(http)
    results = check_server(client)
    bad = [r for r in results if r.status in (Status.ERROR, Status.CRITICAL)]
    counts = {}
    for r in results:
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
    print(f"scim2-tester: {len(results)} checks: {counts}")
    for r in results:
        if r.status in (Status.ERROR, Status.CRITICAL, Status.DEVIATION):
            print(f"  {r.status.name} [{r.resource_type}] {r.title}: {r.reason}")
    if not results or counts.get("SUCCESS", 0) == 0:
        fail("scim2-tester ran no successful check")
    if bad:
        fail(f"{len(bad)} checks failed")


def admin_users(info, admin_token):
    req = urllib.request.Request(f"{info['idp']}/admin/v1/users", headers={"Authorization": f"Bearer {admin_token}"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def connector(info):
    http = Client(base_url=info["scim_url"], headers={"Authorization": f"Bearer {info['scim_token']}"})
    client = SyncSCIMClient(http)
    client.discover()
    UserModel = client.get_resource_model("User")
    GroupModel = client.get_resource_model("Group")

    # The configuration's people are there, under their usernames.
    found = client.query(UserModel, query_parameters=SearchRequest(filter='userName eq "alice"'))
    if found.total_results != 1 or found.resources[0].user_name != "alice":
        fail(f"alice is not listed by userName: {found}")

    created = client.create(UserModel(user_name="kim@example.com", external_id="okta-kim",
                                      display_name="Kim Lee", active=True))
    if not created.id or created.user_name != "kim@example.com":
        fail(f"create returned {created}")
    by_ext = client.query(UserModel, query_parameters=SearchRequest(filter='externalId eq "okta-kim"'))
    if by_ext.total_results != 1 or by_ext.resources[0].id != created.id:
        fail(f"externalId lookup returned {by_ext}")

    group = client.create(GroupModel(display_name="ai-pilot", members=[{"value": created.id}]))
    if [m.value for m in (group.members or [])] != [created.id]:
        fail(f"group members: {group.members}")

    # Deactivate the way connectors do: PATCH replace active=false.
    patch = PatchOp[UserModel](operations=[PatchOperation[UserModel](op="replace", path="active", value=False)])
    client.modify(UserModel, created.id, patch)
    after = client.query(UserModel, created.id)
    if after.active is not False:
        fail(f"after deactivation active = {after.active}")
    client.delete(UserModel, created.id)
    g = client.query(GroupModel, group.id)
    if g.members:
        fail(f"a deleted person is still a member: {g.members}")
    client.delete(GroupModel, group.id)
    print("scim2-client: create, lookups, group, deactivate, delete: ok")


def main():
    proc, info = start_demo(sys.argv[1])
    try:
        if not info.get("scim_url") or not info.get("scim_token"):
            fail("the demo's JSON line has no scim_url / scim_token")
        conformance(info)
        connector(info)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
