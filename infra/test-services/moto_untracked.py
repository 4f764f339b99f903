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
transaction. The DynamoDB models are left out of the dashboard; nothing else changes.

    python moto_untracked.py -H 127.0.0.1 -p PORT
"""

from moto.core.common_models import BaseModel
from moto.server import main

_tracked_new = BaseModel.__new__


def _new(cls, *args, **kwargs):
    if cls.__module__.startswith("moto.dynamodb."):
        return object.__new__(cls)
    return _tracked_new(cls, *args, **kwargs)


BaseModel.__new__ = staticmethod(_new)

if __name__ == "__main__":
    main()
