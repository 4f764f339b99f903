#!/usr/bin/env python3
"""Measures what each Okta operation costs in AWS requests through a running
`scimgw dev --aws-endpoint` whose endpoint is a moto server recording every request
(`MOTO_ENABLE_RECORDING=True`), and prices a month of them, for `scripts/cost`.

    cost_model.py INFO_JSON MOTO_URL   # prints the Markdown section for docs/deploy.md

For each operation it records the AWS requests the gateway made (DynamoDB, KMS, Secrets
Manager, SQS, S3: every request reached moto) and computes DynamoDB's write request
units from the items written: an item's size by DynamoDB's rules, rounded up to 1 KB,
twice inside a transaction, plus one write per global secondary index whose keys the
item carries (the audit table's indexes project ALL attributes). Reads are priced at one
read request unit per request (the gateway's reads are single small items or short
pages). Prices are list prices in us-east-1, set below with their sources.
"""

import base64
import json
import math
import sys
import time
import urllib.parse
import urllib.request

import boto3

sys.path.insert(0, __import__("os").path.dirname(__file__))
from call_budget import Gateway, patch, members, user  # noqa: E402

# us-east-1 list prices, read 2026-12 from the pages named.
PRICES = {
    # https://aws.amazon.com/dynamodb/pricing/on-demand/
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    "dynamodb_gb_month": 0.25,
    # https://aws.amazon.com/kms/pricing/ (HMAC and symmetric requests; the seal key's
    # ECC Sign requests are priced as asymmetric, the higher rate)
    "kms_request": 0.03 / 1e4,
    "kms_asymmetric_request": 0.15 / 1e4,
    "kms_key_month": 1.00,
    # https://aws.amazon.com/secrets-manager/pricing/
    "secret_month": 0.40,
    "secrets_request": 0.05 / 1e4,
    # https://aws.amazon.com/sqs/pricing/ (standard; FIFO is 0.50)
    "sqs_request": 0.40 / 1e6,
    "sqs_fifo_request": 0.50 / 1e6,
    # https://aws.amazon.com/s3/pricing/
    "s3_put": 0.005 / 1e3,
    "s3_get": 0.0004 / 1e3,
    # https://aws.amazon.com/lambda/pricing/ (arm64)
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second": 0.0000133334,
    # https://aws.amazon.com/api-gateway/pricing/
    "rest_api_request": 3.50 / 1e6,
    # https://aws.amazon.com/waf/pricing/
    "waf_web_acl_month": 5.00,
    "waf_rule_month": 1.00,
    "waf_request": 0.60 / 1e6,
    # https://aws.amazon.com/cloudwatch/pricing/
    "metric_month": 0.30,
    "alarm_month": 0.10,
    "dashboard_month": 3.00,
    "logs_gb": 0.50,
}

# A month of Okta traffic per user, as the operations below (steady state: joiners,
# movers, leavers, profile and group changes, and the reads Okta makes before writes).
MIX_PER_USER = {
    "look-up before create": 0.03,
    "create user": 0.03,
    "profile PUT": 1.0,
    "deactivate": 0.03,
    "user GET": 3.0,
    "group member add": 1.0,
    "group member remove": 0.5,
    "group GET": 1.5,
    "user list page": 0.1,
}

# Lambda: the scim-api's memory (template.yaml, Globals) and a warm request's duration
# in AWS (assumed: a few DynamoDB and KMS calls and one Identity Center call).
LAMBDA_GB = 0.25
LAMBDA_SECONDS = 0.2
# Fixed parts of the stack, counted in template.yaml: the KMS keys it creates (the audit
# MAC and seal keys), secrets, alarms and dashboards; the web ACL has two rate rules
# (three with the allow-list).
TEMPLATE = open(__import__("os").path.join(__import__("os").path.dirname(__file__), "..", "template.yaml")).read()
KMS_KEYS = TEMPLATE.count("Type: AWS::KMS::Key\n")
SECRETS = TEMPLATE.count("Type: AWS::SecretsManager::Secret\n")
ALARMS = TEMPLATE.count("Type: AWS::CloudWatch::Alarm\n")
DASHBOARDS = TEMPLATE.count("Type: AWS::CloudWatch::Dashboard\n")
WAF_RULES = 2
# The sealer: every 15 minutes, and a daily verification.
SEAL_RUNS = 30 * 24 * 4
# Custom metrics the functions publish (EMF; edge::metrics and the functions' own):
# per request function 6 metrics under Function and under Function x Operation for each
# operation used (Okta uses about 10 SCIM operations), 4 target counters, 1 audit failure
# counter; the hook's and audit API's 6 x (1 + 3); the worker, reconciler, sealer and
# token-age about 20 more.
CUSTOM_METRICS = 6 * (1 + 10) + 4 + 1 + 2 * 6 * (1 + 3) + 20
LOG_BYTES_PER_REQUEST = 1500


class Recorder:
    def __init__(self, moto):
        self.moto = moto.rstrip("/")

    def _post(self, path):
        urllib.request.urlopen(urllib.request.Request(self.moto + path, method="POST"), timeout=30).read()

    def start(self):
        self._post("/moto-api/recorder/reset-recording")
        self._post("/moto-api/recorder/start-recording")

    def stop(self):
        self._post("/moto-api/recorder/stop-recording")
        with urllib.request.urlopen(self.moto + "/moto-api/recorder/download-recording", timeout=30) as r:
            text = r.read().decode()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def service_of(entry):
    auth = entry["headers"].get("Authorization", "")
    scope = auth.split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    return scope[3] if len(scope) > 3 else "?"


def operation_of(entry):
    target = entry["headers"].get("X-Amz-Target")
    if target:
        return target.split(".", 1)[-1]
    return entry["method"] + " " + urllib.parse.urlsplit(entry["url"]).path.split("/", 2)[-1][:20]


def body_of(entry):
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    try:
        return json.loads(body) if body else {}
    except ValueError:
        return {}


def value_size(value):
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return math.ceil(len(inner.lstrip("-").replace(".", "")) / 2) + 1
    if kind == "B":
        return len(base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: v}) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) for k, v in inner.items())
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    return 0


def item_size(item):
    return sum(len(k.encode()) + value_size(v) for k, v in item.items())


def kb(size):
    return max(1, math.ceil(size / 1024))


class Tables:
    """The tables' global secondary indexes, by table: each a set of key attributes."""

    def __init__(self, moto, names):
        ddb = boto3.client("dynamodb", endpoint_url=moto, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        self.indexes = {}
        for name in names:
            described = ddb.describe_table(TableName=name)["Table"]
            self.indexes[name] = [
                {k["AttributeName"] for k in index["KeySchema"]}
                for index in described.get("GlobalSecondaryIndexes", [])
            ]

    def index_writes(self, table, item):
        return sum(1 for keys in self.indexes.get(table, []) if keys <= item.keys())


def dynamodb_units(entry, tables):
    """(write request units, read request units, bytes stored) of one DynamoDB request."""
    op, body = operation_of(entry), body_of(entry)
    if op == "TransactWriteItems":
        wru, stored = 0, 0
        for part in body.get("TransactItems", []):
            (kind, spec), = part.items()
            if kind == "Put":
                size = item_size(spec["Item"])
                wru += 2 * kb(size) + kb(size) * tables.index_writes(spec["TableName"], spec["Item"])
                stored += size * (1 + tables.index_writes(spec["TableName"], spec["Item"]))
            elif kind == "Update":
                size = item_size(spec["Key"]) + sum(value_size(v) for v in spec.get("ExpressionAttributeValues", {}).values())
                wru += 2 * kb(size)
            else:
                wru += 2
        return wru, 0, stored
    if op == "PutItem":
        size = item_size(body["Item"])
        writes = 1 + tables.index_writes(body["TableName"], body["Item"])
        return kb(size) * writes, 0, size * writes
    if op in ("UpdateItem", "DeleteItem"):
        size = item_size(body.get("Key", {})) + sum(value_size(v) for v in body.get("ExpressionAttributeValues", {}).values())
        return kb(size), 0, 0
    if op in ("GetItem", "Query", "Scan", "BatchGetItem"):
        return 0, 1, 0
    return 0, 0, 0


def measure(recorder, tables, operation):
    time.sleep(1.1)
    recorder.start()
    result = operation()
    # What the request set off after answering (the audit outcome is written before).
    time.sleep(0.3)
    entries = recorder.stop()
    calls, wru, rru, stored = {}, 0, 0, 0
    for entry in entries:
        key = f"{service_of(entry)}:{operation_of(entry)}"
        calls[key] = calls.get(key, 0) + 1
        if service_of(entry) == "dynamodb":
            w, r, s = dynamodb_units(entry, tables)
            wru, rru, stored = wru + w, rru + r, stored + s
    return {"calls": calls, "wru": wru, "rru": rru, "stored": stored}, result


def cost_of(m):
    """Dollars of one measured operation, by service."""
    kms = sum(n for k, n in m["calls"].items() if k.startswith("kms:") and k != "kms:Sign")
    kms_sign = m["calls"].get("kms:Sign", 0)
    secrets = sum(n for k, n in m["calls"].items() if k.startswith("secretsmanager:"))
    sqs = sum(n for k, n in m["calls"].items() if k.startswith("sqs:"))
    s3_put = sum(n for k, n in m["calls"].items() if k.startswith("s3:PUT"))
    return {
        "DynamoDB requests": m["wru"] * PRICES["dynamodb_wru"] + m["rru"] * PRICES["dynamodb_rru"],
        "KMS requests": kms * PRICES["kms_request"] + kms_sign * PRICES["kms_asymmetric_request"],
        "Secrets Manager requests": secrets * PRICES["secrets_request"],
        "SQS requests": sqs * PRICES["sqs_request"],
        "S3 requests": s3_put * PRICES["s3_put"],
        "API Gateway (REST) and WAF requests": PRICES["rest_api_request"] + PRICES["waf_request"],
        "Lambda": PRICES["lambda_request"] + LAMBDA_GB * LAMBDA_SECONDS * PRICES["lambda_gb_second"],
        "CloudWatch Logs": LOG_BYTES_PER_REQUEST / 1e9 * PRICES["logs_gb"],
    }


def fixed_month(retained_gb):
    return {
        "KMS keys (audit MAC and seal)": KMS_KEYS * PRICES["kms_key_month"],
        "Secrets Manager secrets": SECRETS * PRICES["secret_month"],
        "WAF web ACL and rules": PRICES["waf_web_acl_month"] + WAF_RULES * PRICES["waf_rule_month"],
        "CloudWatch custom metrics (upper bound)": CUSTOM_METRICS * PRICES["metric_month"],
        "CloudWatch alarms and dashboard": ALARMS * PRICES["alarm_month"] + DASHBOARDS * PRICES["dashboard_month"],
        "Sealer (KMS Sign, S3 anchors, Lambda)": SEAL_RUNS * (2 * PRICES["kms_asymmetric_request"] + PRICES["s3_put"] + PRICES["lambda_request"] + 0.5 * 1.0 * PRICES["lambda_gb_second"]),
        "DynamoDB storage (audit trail kept)": retained_gb * PRICES["dynamodb_gb_month"],
    }


def main():
    info = json.load(open(sys.argv[1]))
    moto = sys.argv[2]
    recorder = Recorder(moto)
    tables = Tables(moto, [info["audit_table"], info["state_table"]])
    gw = Gateway(info)

    # The directory and a group, as earlier pushes left them (not measured).
    ids = [gw.call("POST", "/Users", user(n))["id"] for n in range(20)]
    group = gw.call("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineers", "members": members(ids[:10])})
    gid = group["id"]

    measured = {}
    new = dict(user(100), userName="New.User@Example.com")
    query = urllib.parse.quote(f'userName eq "{new["userName"]}"')
    measured["look-up before create"], _ = measure(recorder, tables, lambda: gw.call("GET", f"/Users?filter={query}&startIndex=1&count=100"))
    measured["create user"], created = measure(recorder, tables, lambda: gw.call("POST", "/Users", new))
    uid = created["id"]
    changed = dict(new, id=uid, displayName="Changed Name")
    changed.pop("password")
    measured["profile PUT"], _ = measure(recorder, tables, lambda: gw.call("PUT", f"/Users/{uid}", changed))
    measured["deactivate"], _ = measure(recorder, tables, lambda: gw.call("PATCH", f"/Users/{uid}", patch({"op": "replace", "value": {"active": False}})))
    measured["user GET"], _ = measure(recorder, tables, lambda: gw.call("GET", f"/Users/{ids[3]}"))
    rename_same = {"op": "replace", "value": {"id": gid, "displayName": "Engineers"}}
    measured["group member add"], _ = measure(recorder, tables, lambda: gw.call("PATCH", f"/Groups/{gid}", patch(rename_same, {"op": "add", "path": "members", "value": members([ids[15]])})))
    measured["group member remove"], _ = measure(recorder, tables, lambda: gw.call("PATCH", f"/Groups/{gid}", patch(rename_same, {"op": "remove", "path": f'members[value eq "{ids[15]}"]'})))
    measured["group GET"], _ = measure(recorder, tables, lambda: gw.call("GET", f"/Groups/{gid}"))
    measured["user list page"], _ = measure(recorder, tables, lambda: gw.call("GET", "/Users?startIndex=1&count=100"))

    rows = ["| Okta operation | AWS requests the gateway made | DynamoDB write units | stored bytes (with indexes) | $ per million |", "|---|---|---:|---:|---:|"]
    for name, m in measured.items():
        calls = ", ".join(f"{k} {n}" for k, n in sorted(m["calls"].items()))
        per_million = sum(cost_of(m).values()) * 1e6
        rows.append(f"| {name} | {calls} | {m['wru']} | {m['stored']:,} | {per_million:,.2f} |")

    months = []
    for users in (1_000, 10_000):
        variable = {}
        stored = 0.0
        for name, per_user in MIX_PER_USER.items():
            count = per_user * users
            stored += measured[name]["stored"] * count
            for part, dollars in cost_of(measured[name]).items():
                variable[part] = variable.get(part, 0.0) + dollars * count
        requests = sum(MIX_PER_USER.values()) * users
        # A year's records kept (the default retention is 400 days).
        fixed = fixed_month(stored * 12 / 1e9)
        months.append((users, requests, variable, fixed))

    parts = list(months[0][2]) + list(months[0][3])
    table = ["| per month | " + " | ".join(f"{u:,} users ({r:,.0f} requests)" for u, r, _, _ in months) + " |", "|---|" + "---:|" * len(months)]
    for part in parts:
        table.append(f"| {part} | " + " | ".join(f"${({**v, **f})[part]:,.2f}" for _, _, v, f in months) + " |")
    table.append("| **total** | " + " | ".join(f"**${sum(v.values()) + sum(f.values()):,.2f}**" for _, _, v, f in months) + " |")

    mix = ", ".join(f"{name} {n:g}" for name, n in MIX_PER_USER.items())
    print("\n".join([
        "Measured per Okta operation (one request each, through `scimgw dev --aws-endpoint` against a recording moto):",
        "",
        *rows,
        "",
        f"A month at that scale, with per user and month: {mix}; scim-api at {LAMBDA_GB * 1024:.0f} MB and {LAMBDA_SECONDS * 1000:.0f} ms a request; "
        f"{CUSTOM_METRICS} custom metrics (each billed only for the hours it receives data, so this is an upper bound); a year of audit records kept:",
        "",
        *table,
    ]))


if __name__ == "__main__":
    main()
