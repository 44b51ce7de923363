# Shared by the Python client-matrix checks: the Sesame port, a watchdog, named steps, and
# Sesame's clock control. A check prints `CLIENTMATRIX PASS <name>` as its last line and exits
# 0, or prints the failing step and exits 1. ClientMatrixTests.swift runs these.
import os
import signal
import sys
import time
import traceback

_start = time.monotonic()

PORT = int(os.environ.get("SESAME_PORT", "0"))
HOST = "127.0.0.1"
if PORT == 0:
    sys.exit("SESAME_PORT is not set: start sesame-server --port 0 --enable-debug-command yes "
             "(and --notify-keyspace-events Ex for the redis-py check) and pass its port")


def watchdog(seconds=20):
    """Bounded in time: a hung client is a failure, not a hung test run."""
    def expired(*_):
        print(f"FAIL: watchdog: still running after {seconds} s (step: {_current})", flush=True)
        os._exit(3)
    signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)


_current = "start"


def step(name):
    global _current
    _current = name
    print(f"step: {name} (at {time.monotonic() - _start:.2f} s)", flush=True)


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def advance(client, ms):
    """Moves Sesame's clock forward (DEBUG ADVANCE-TIME, needs --enable-debug-command yes);
    expired keys are gone when it returns."""
    client.execute_command("DEBUG", "ADVANCE-TIME", int(ms))


def run(name, body):
    watchdog()
    try:
        body()
    except Exception as e:  # noqa: BLE001 - report any failure with its step
        print(f"FAIL in step '{_current}': {type(e).__name__}: {e}", flush=True)
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()
        os._exit(1)
    print(f"CLIENTMATRIX PASS {name} in {time.monotonic() - _start:.2f} s", flush=True)
    os._exit(0)
