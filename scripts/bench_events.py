#!/usr/bin/env python3
"""Writes the invocation events `scripts/bench footprint` feeds each request-serving
function: API Gateway proxy events (REST API payload 1.0 for scim-api and okta-hook,
HTTP API payload 2.0 for audit-api, as template.yaml routes them), carrying the tokens
of a running `scimgw dev --aws-endpoint` whose resources the functions use. Standard
library only.

    bench_events.py INFO_JSON OUT_DIR     # the hook's secret is the dev SCIM token

Each file is a cycle of ten requests in the proportions a busy gateway sees them: mostly
authenticated work, some of it refused.
"""

import json
import sys
import time
import uuid


def rest(method, path, headers, query=None, body=None):
    """An API Gateway REST API proxy event (payload format 1.0)."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Host": "bench.execute-api.us-east-1.amazonaws.com", **headers},
        "queryStringParameters": query,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "bench",
            "stage": "$default",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": "192.0.2.10", "userAgent": "Okta SCIM Client 1.0.0"},
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "apiId": "bench",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def http(method, path, headers, query=""):
    """An API Gateway HTTP API event (payload format 2.0)."""
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "bench.execute-api.us-east-1.amazonaws.com", **headers},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "192.0.2.20", "userAgent": "bench"},
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }


def main():
    info_path, out = sys.argv[1:3]
    info = json.load(open(info_path))
    hook_secret = info["scim_token"]
    okta = {"Authorization": "Bearer " + info["scim_token"], "Accept": "application/scim+json",
            "User-Agent": "Okta SCIM Client 1.0.0"}
    refused = {**okta, "Authorization": "Bearer not-the-token"}
    lookup = rest("GET", "/scim/v2/Users", okta,
                  {"filter": 'userName eq "nobody@example.com"', "startIndex": "1", "count": "100"})
    discovery = rest("GET", "/scim/v2/ServiceProviderConfig", okta)
    scim = [lookup, discovery, discovery, lookup, discovery, discovery,
            rest("GET", "/scim/v2/Users", {k: v for k, v in okta.items() if k != "Authorization"}),
            rest("GET", "/scim/v2/Users", refused), discovery, discovery]

    challenge = {"Authorization": hook_secret, "x-okta-verification-challenge": "bench-challenge"}
    delivery = json.dumps({
        "eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
        "source": "https://bench.okta.com/api/v1/eventHooks/who8bench", "eventId": str(uuid.uuid4()),
        "eventTime": "2026-12-01T00:00:00.000Z", "contentType": "application/json",
        "data": {"events": [{
            "uuid": str(uuid.uuid4()), "published": "2026-12-01T00:00:00.000Z",
            "eventType": "user.lifecycle.deactivate", "version": "0", "severity": "INFO",
            "displayMessage": "Deactivate Okta user",
            "actor": {"id": "00ubenchadmin", "type": "User", "alternateId": "admin@example.com",
                      "displayName": "Bench Admin"},
            "outcome": {"result": "SUCCESS"},
            "target": [{"id": "00ubenchuser", "type": "User", "alternateId": "user@example.com",
                        "displayName": "Bench User"}],
        }]},
    })
    hook_headers = {"Authorization": hook_secret, "Content-Type": "application/json"}
    hook = [rest("GET", "/hooks/okta", challenge)] * 7 + [
        rest("POST", "/hooks/okta", hook_headers, body=delivery),
        rest("POST", "/hooks/okta", {**hook_headers, "Authorization": "wrong"}, body=delivery),
        rest("GET", "/hooks/okta", {"x-okta-verification-challenge": "no-secret"}),
    ]

    auditor = {"authorization": "Bearer " + info["auditor_token"]}
    records = http("GET", "/audit/records", auditor, "limit=5")
    audit = [records] * 8 + [http("GET", "/audit/records", {}, "limit=5"),
                             http("GET", "/audit/records", {"authorization": "Bearer x.y.z"})]

    for name, events in [("scim-api", scim), ("okta-hook", hook), ("audit-api", audit)]:
        with open(f"{out}/events-{name}.json", "w") as f:
            json.dump(events, f)


if __name__ == "__main__":
    main()
