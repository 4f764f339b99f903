"""moto's server with a listener that can go down and come back, its state kept.

moto keeps every table, queue, key and bucket in this process's memory, so restarting
the process would wipe them: that is not what an AWS outage looks like. This wrapper
serves moto (the same application `moto_server` serves) on 127.0.0.1:PORT and, on
SIGUSR1, takes the listener down for DOWN seconds (new connections are refused, and
every open connection, idle or in flight, is closed without an answer), then listens
again on the same port in the same process, so the backends' state survives.

    python moto_restartable.py --port PORT [--down-seconds 5]

Each outage prints `down <epoch seconds>` and `up <epoch seconds>` lines on stdout.
SIGTERM or SIGINT ends it at once, as they end `moto_server`.
"""

import argparse
import os
import signal
import socket
import sys
import threading
import time

# Imported for its effect: moto's DynamoDB objects untracked, so that the copy of a table
# each transaction (each audit append) makes is freed with it (moto_untracked.py).
import moto_untracked  # noqa: F401  (same directory: this script's sys.path[0])
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

# The connections open now, so that an outage can close them: werkzeug serves HTTP/1.1
# keep-alive, and a pooled connection would otherwise outlive the listener.
_open = set()
_open_lock = threading.Lock()


class TrackedHandler(MotoRequestHandler):
    def setup(self):
        super().setup()
        with _open_lock:
            _open.add(self.connection)

    def finish(self):
        with _open_lock:
            _open.discard(self.connection)
        super().finish()


def serve(port, app):
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=TrackedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def take_down(server, thread):
    server.shutdown()
    server.server_close()
    thread.join()
    with _open_lock:
        connections = list(_open)
    for connection in connections:
        try:
            connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--down-seconds", type=float, default=5.0)
    args = parser.parse_args()

    app = DomainDispatcherApplication(create_backend_app)
    restart = threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: restart.set())
    # Stopping needs no state kept: end at once, however busy the request threads are.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))

    server, thread = serve(args.port, app)
    print(f"listening 127.0.0.1:{args.port}", flush=True)
    while True:
        if not restart.wait(0.2):
            continue
        restart.clear()
        take_down(server, thread)
        print(f"down {time.time():.3f}", flush=True)
        time.sleep(args.down_seconds)
        server, thread = serve(args.port, app)
        print(f"up {time.time():.3f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
