"""Sesame as a pytest fixture: start the binary on a free port, talk to it with redis-py,
and move its clock instead of sleeping. Run: SESAME_SERVER=.build/debug/sesame-server pytest
docs/examples/test_sesame_fixture.py"""
import json
import os
import subprocess

import pytest
import redis

SESAME = os.environ.get("SESAME_SERVER", ".build/debug/sesame-server")


@pytest.fixture
def sesame():
    proc = subprocess.Popen(
        [SESAME, "--port", "0", "--exit-with-parent", "--enable-debug-command", "yes",
         "--loglevel", "warning", "--threads", "1"],
        stdout=subprocess.PIPE,
    )
    ready = json.loads(proc.stdout.readline())  # {"event":"ready","port":N,"pid":N}
    client = redis.Redis(port=ready["port"], decode_responses=True)
    yield client
    client.close()
    proc.terminate()
    proc.wait(timeout=5)


def advance(client, seconds):
    """Sesame extension: move the server clock; expired keys are gone when it returns."""
    client.execute_command("DEBUG", "ADVANCE-TIME", int(seconds * 1000))


def test_idle_session_expires_without_sleeping(sesame):
    key = "sess:{42}:abc"
    sesame.hset(key, mapping={"userId": "42", "ipAddress": "10.0.0.1"})
    sesame.expire(key, 1800)
    sesame.sadd("user_sessions:{42}", key)

    advance(sesame, 1200)
    assert sesame.hget(key, "userId") == "42"
    sesame.expire(key, 1800)  # sliding idle timeout: activity re-arms it

    advance(sesame, 1799)
    assert sesame.hgetall(key) == {"userId": "42", "ipAddress": "10.0.0.1"}

    advance(sesame, 2)
    assert sesame.exists(key) == 0
    assert sesame.smembers("user_sessions:{42}") == {key}


def test_plain_session_middleware_commands(sesame):
    # What Flask-Session / connect-redis send: SET EX, GET, DEL.
    assert sesame.set("session:xyz", "payload", ex=60)
    assert sesame.get("session:xyz") == "payload"
    advance(sesame, 61)
    assert sesame.get("session:xyz") is None
