"""moto's server (the same `moto_server -H HOST -p PORT`) without the instance tracking of
its DynamoDB models, for runs that append many audit records (scripts/services, which
starts the test suite's moto, scripts/bench, and the soak's moto_restartable.py).

moto keeps every object made from one of its models in a class-level list
(`BaseModel.__new__` appends it to `instances_tracked`), for its dashboard
(`/moto-api/data.json`) and its reset. Its DynamoDB `TransactWriteItems` deep-copies
every table the transaction touches, items and all, as the backup it rolls back to; the
copies are made through `__new__`, so each one is tracked and never freed. One audit
append is one conditional transaction on the audit table, so the server keeps a whole
copy of that table per append: memory grows with the square of the appends (7.5 GB after
2 000 appends to a table shaped like the audit table, moto 5.2.5), and so does the
garbage collector's work. Without the tracking, a backup lives as long as its
transaction. The DynamoDB models are left out of the dashboard.

The backup itself is the other cost: copying the whole table per transaction makes each
append slower than the last (in the fault soak moto's one process spent its time in
`deepcopy` and fell minutes behind), and the copy walks the table's dict while the
server's other threads write to it, which fails the request now and then
("dictionary changed size during iteration", answered 500). So a transaction here backs
up only the items it names (a transaction names each item it writes: its `Key`, or the
key attributes of a `Put`'s `Item`) and puts exactly those back when it is cancelled;
moto's own code still decides every condition and applies every write.

moto's SQS looks at every message in a queue for each send, receive and attribute read,
and asks for the time as a datetime (then turned into epoch seconds) once per message
each time; with a backlog of thousands of events that conversion was a third of the
server's time in the fault soak. Here SQS reads the clock as `time.time_ns()`, the same
epoch seconds, made strictly increasing (see `_now_millis`).

    python moto_untracked.py -H 127.0.0.1 -p PORT
"""

import copy
import threading
import time
import types

import moto.dynamodb.models as dynamodb_models
import moto.sqs.models as sqs_models
from moto.core.common_models import BaseModel
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.server import main

_tracked_new = BaseModel.__new__


def _new(cls, *args, **kwargs):
    if cls.__module__.startswith("moto.dynamodb."):
        return object.__new__(cls)
    return _tracked_new(cls, *args, **kwargs)


BaseModel.__new__ = staticmethod(_new)

_in_transaction = threading.local()


def _deepcopy(value, memo=None):
    # Within a transaction, the table "backup" is the table itself: the items it names
    # are backed up and restored by _transact_write_items below.
    if getattr(_in_transaction, "active", False) and isinstance(value, Table):
        return value
    return copy.deepcopy(value, memo)


# moto's DynamoDB models call copy.deepcopy through their module's `copy`: only that
# module sees the table-aware version.
_copy_for_dynamodb = types.ModuleType("copy")
_copy_for_dynamodb.__dict__.update(copy.__dict__)
_copy_for_dynamodb.deepcopy = _deepcopy
dynamodb_models.copy = _copy_for_dynamodb

_moto_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items
_ABSENT = object()


def _slot(table, attributes):
    """Where an item with these key attributes lives in moto's table."""
    hash_key = DynamoType(attributes[table.hash_key_attr])
    range_key = None
    if table.range_key_attr is not None:
        range_key = DynamoType(attributes[table.range_key_attr])
    return hash_key, range_key


def _stored(table, hash_key, range_key):
    if range_key is None:
        return table.items.get(hash_key, _ABSENT)
    return table.items.get(hash_key, {}).get(range_key, _ABSENT)


def _restore(table, hash_key, range_key, item):
    if range_key is None:
        if item is _ABSENT:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
        return
    if item is _ABSENT:
        items = table.items.get(hash_key)
        if items is not None:
            items.pop(range_key, None)
            if not items:
                table.items.pop(hash_key, None)
    else:
        table.items[hash_key][range_key] = item


def _transact_write_items(self, transact_items):
    backup = []
    try:
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables[op["TableName"]]
            hash_key, range_key = _slot(table, op.get("Key") or op["Item"])
            item = _stored(table, hash_key, range_key)
            kept = item if item is _ABSENT else copy.deepcopy(item)
            backup.append((table, hash_key, range_key, kept))
    except Exception:  # noqa: BLE001 a malformed request: moto's own checks answer it
        return _moto_transact_write_items(self, transact_items)
    _in_transaction.active = True
    try:
        return _moto_transact_write_items(self, transact_items)
    except Exception:
        # Cancelled: every item the transaction named is as it was (in reverse, so that
        # an item named twice, which moto refuses, ends as it was first).
        for table, hash_key, range_key, item in reversed(backup):
            _restore(table, hash_key, range_key, item)
        raise
    finally:
        _in_transaction.active = False


dynamodb_models.DynamoDBBackend.transact_write_items = _transact_write_items

_moto_unix_time = sqs_models.unix_time
_moto_unix_time_millis = sqs_models.unix_time_millis


_clock_lock = threading.Lock()
_last_ns = [0]


def _now_millis():
    # Strictly increasing: moto's SQS takes a message whose visibility timeout was set to
    # 0 for visible only once the clock has moved past that instant (`now > visible_at`),
    # which its slow datetime clock always had. By a nanosecond at least, counted in
    # integers: a larger step outruns real time when the server reads the clock millions
    # of times a second (once per queued message per receive), and a clock ahead of real
    # time makes every long poll wait until real time catches up (a 1-second poll of an
    # empty queue took 5 s at the end of the fault soak with a microsecond step).
    with _clock_lock:
        now = max(time.time_ns(), _last_ns[0] + 1)
        _last_ns[0] = now
    return now / 1_000_000


def _unix_time(dt=None):
    return _now_millis() / 1000.0 if dt is None else _moto_unix_time(dt)


def _unix_time_millis(dt=None):
    return _now_millis() if dt is None else _moto_unix_time_millis(dt)


sqs_models.unix_time = _unix_time
sqs_models.unix_time_millis = _unix_time_millis

if __name__ == "__main__":
    main()
