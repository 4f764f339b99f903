#!/usr/bin/env python3
"""Counts the Identity Center requests each Okta operation costs through a running
`scimgw dev` (its embedded emulator counts every SCIM request it receives), for
`scripts/call-budget`. Standard library only.

    call_budget.py INFO_JSON GROUP_SIZE   # prints {"operation": requests, ...} as JSON

The directory holds 1 000 users and the group under test GROUP_SIZE of them; every
operation is sent as Okta's SCIM client sends it.
"""

import json
import sys
import time
import urllib.parse
import urllib.request

USERS = 1000
REPLACED = 150


class Gateway:
    def __init__(self, info):
        self.scim = info["scim_url"]
        self.token = info["scim_token"]
        self.emulator = info["emulator_url"].split("/scim/v2")[0]
        self.emulator_token = info["emulator_token"]

    def call(self, method, path, body=None, expect=(200, 201, 204)):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.scim + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + self.token)
        request.add_header("User-Agent", "Okta SCIM Client 1.0.0")
        if data is not None:
            request.add_header("Content-Type", "application/scim+json")
        with urllib.request.urlopen(request, timeout=60) as response:
            status = response.status
            text = response.read()
        if status not in expect:
            raise RuntimeError(f"{method} {path}: {status}")
        return json.loads(text) if text else None

    def requests(self):
        request = urllib.request.Request(self.emulator + "/_emulator/stats")
        request.add_header("Authorization", "Bearer " + self.emulator_token)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["requests"]

    def measure(self, operation):
        # Steady state: more than a second after the last create, past the window in
        # which the gateway first makes sure a new resource shows in listings.
        time.sleep(1.1)
        before = self.requests()
        result = operation()
        return self.requests() - before, result


def user(n):
    name = f"user{n:05d}@example.com"
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": "Given", "familyName": f"Family{n}"},
        "emails": [{"primary": True, "value": name, "type": "work"}],
        "displayName": f"User {n}",
        "externalId": f"00u{n:017d}",
        "groups": [],
        "password": "placeholder-Pw1!",
        "active": True,
    }


def patch(*operations):
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}


def members(ids):
    return [{"value": i, "display": "x"} for i in ids]


def main():
    info = json.load(open(sys.argv[1]))
    size = int(sys.argv[2])
    gw = Gateway(info)

    # The directory, and the group under test, as earlier pushes left them.
    ids = [gw.call("POST", "/Users", user(n))["id"] for n in range(USERS)]
    group = gw.call("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineers", "members": []})
    gid = group["id"]
    for start in range(0, size, 100):
        chunk = ids[start : min(size, start + 100)]
        gw.call("PATCH", f"/Groups/{gid}", patch({"op": "add", "path": "members", "value": members(chunk)}))
    counts = {}

    def import_all():
        total, start = None, 1
        while total is None or start <= total:
            page = gw.call("GET", f"/Users?startIndex={start}&count=100")
            total = page["totalResults"]
            start += 100

    counts["import of 1 000 users, pages of 100"], _ = gw.measure(import_all)
    existing = urllib.parse.quote(f'userName eq "{user(500)["userName"]}"')
    counts["look-up of an existing user by userName"], _ = gw.measure(
        lambda: gw.call("GET", f"/Users?filter={existing}&startIndex=1&count=100")
    )
    new = dict(user(USERS), userName="New.User@Example.com")
    query = urllib.parse.quote(f'userName eq "{new["userName"]}"')
    counts["look-up before create (no match)"], _ = gw.measure(
        lambda: gw.call("GET", f"/Users?filter={query}&startIndex=1&count=100")
    )
    counts["create user"], created = gw.measure(lambda: gw.call("POST", "/Users", new))
    uid = created["id"]
    changed = dict(new, id=uid, displayName="Changed Name")
    changed.pop("password")
    counts["profile PUT"], _ = gw.measure(lambda: gw.call("PUT", f"/Users/{uid}", changed))
    counts["deactivate"], _ = gw.measure(lambda: gw.call("PATCH", f"/Users/{uid}", patch({"op": "replace", "value": {"active": False}})))
    counts["reactivate"], _ = gw.measure(lambda: gw.call("PATCH", f"/Users/{uid}", patch({"op": "replace", "value": {"active": True}})))
    counts["group create"], made = gw.measure(lambda: gw.call("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Pushed", "members": []}))
    counts["group rename"], _ = gw.measure(lambda: gw.call("PATCH", f"/Groups/{made['id']}", patch({"op": "replace", "value": {"id": made["id"], "displayName": "Renamed"}})))
    rename_same = {"op": "replace", "value": {"id": gid, "displayName": "Engineers"}}
    counts["member add (with Okta's unchanged rename)"], _ = gw.measure(
        lambda: gw.call("PATCH", f"/Groups/{gid}", patch(rename_same, {"op": "add", "path": "members", "value": members([uid])}))
    )
    counts["member remove (with Okta's unchanged rename)"], _ = gw.measure(
        lambda: gw.call("PATCH", f"/Groups/{gid}", patch(rename_same, {"op": "remove", "path": f'members[value eq "{uid}"]'}))
    )
    counts["group GET (Okta's, no parameters)"], _ = gw.measure(lambda: gw.call("GET", f"/Groups/{gid}"))
    counts["group GET with members"], _ = gw.measure(lambda: gw.call("GET", f"/Groups/{gid}?attributes=members"))
    # The last 150 users: outside a group of 10, inside a group of 1 000.
    counts["`replace` of the members by 150 users"], _ = gw.measure(
        lambda: gw.call("PATCH", f"/Groups/{gid}", patch({"op": "replace", "path": "members", "value": members(ids[-REPLACED:])}))
    )
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
