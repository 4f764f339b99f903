"""What one audit append per conditional TransactWriteItems does to moto's server: appends
to a table shaped like the audit table (pk and sk, seven indexes projecting everything,
records of about 1 kB) through moto's stock server and through moto_untracked.py, each a
server of its own, printing the server's resident memory and the time as the appends go.
Run with the venv of scripts/services (moto and boto3):

    .venv/bin/python infra/test-services/moto_growth.py [APPENDS]    # default 1000

Each append is what the audit ledger sends (shared/aws-adapters/src/dynamodb_audit): the
record's Put on attribute_not_exists and the chain head's Update on its previous sequence.
"""

import os
import socket
import subprocess
import sys
import time

import boto3

INDEXES = [f"g{i}" for i in range(7)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resident_mb(pid):
    status = open(f"/proc/{pid}/status").read()
    return int(status.split("VmRSS:")[1].split()[0]) // 1024


def measure(name, command, appends):
    port = free_port()
    server = subprocess.Popen(command + ["-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        ddb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        ddb.create_table(
            TableName="audit", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ["pk", "sk", "t", *INDEXES]],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": f"by-{a}", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": a, "KeyType": "HASH"}, {"AttributeName": "t", "KeyType": "RANGE"}],
            } for a in INDEXES])
        ddb.put_item(TableName="audit", Item={"pk": {"S": "CHAIN#c"}, "sk": {"S": "HEAD"}, "seq": {"N": "0"}})
        started = time.monotonic()
        for seq in range(1, appends + 1):
            record = {"pk": {"S": "CHAIN#c"}, "sk": {"S": f"REC#{seq:012}"}, "t": {"S": f"{seq:012}"},
                      "body": {"S": "x" * 800}, **{a: {"S": f"{a}-{seq % 50}"} for a in INDEXES}}
            ddb.transact_write_items(ClientRequestToken=f"{seq:036}", TransactItems=[
                {"Put": {"TableName": "audit", "Item": record,
                         "ConditionExpression": "attribute_not_exists(#pk)",
                         "ExpressionAttributeNames": {"#pk": "pk"}}},
                {"Update": {"TableName": "audit", "Key": {"pk": {"S": "CHAIN#c"}, "sk": {"S": "HEAD"}},
                            "UpdateExpression": "SET #seq = :seq", "ConditionExpression": "#seq = :prev",
                            "ExpressionAttributeNames": {"#seq": "seq"},
                            "ExpressionAttributeValues": {":seq": {"N": str(seq)}, ":prev": {"N": str(seq - 1)}}}},
            ])
            if seq % max(1, appends // 4) == 0:
                print(f"{name}: {seq:,} appends, server resident {resident_mb(server.pid):,} MB, "
                      f"{time.monotonic() - started:.0f} s", flush=True)
    finally:
        server.kill()
        server.wait()


def main():
    appends = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    bin_dir = os.path.dirname(sys.executable)
    here = os.path.dirname(os.path.abspath(__file__))
    measure("moto_server", [os.path.join(bin_dir, "moto_server")], appends)
    measure("moto_untracked.py", [sys.executable, os.path.join(here, "moto_untracked.py")], appends)


if __name__ == "__main__":
    main()
