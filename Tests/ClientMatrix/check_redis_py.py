# redis-py (8.x opens with HELLO 3 by default) against Sesame, unchanged, in RESP2 and RESP3:
# basic ops, pipelines with and without MULTI/EXEC, a WATCH transaction that conflicts once,
# pub/sub, and a keyspace notification for an expired key.
# Needs: pip redis. Server flags: --notify-keyspace-events Ex.
import threading
import time

import redis

from cm_common import HOST, PORT, check, run, step


def client(protocol, **kw):
    return redis.Redis(host=HOST, port=PORT, protocol=protocol, decode_responses=True,
                       socket_timeout=5, socket_connect_timeout=5, **kw)


def basic(r, p):
    step(f"RESP{p} handshake + PING")
    check(r.ping() is True, "PING")
    step(f"RESP{p} SET/GET")
    check(r.set(f"{p}:s", "v1") is True, "SET")
    check(r.get(f"{p}:s") == "v1", "GET")
    check(r.get(f"{p}:missing") is None, "GET missing")
    step(f"RESP{p} HSET/HGETALL")
    check(r.hset(f"{p}:h", mapping={"userId": "42", "role": "admin"}) == 2, "HSET")
    check(r.hgetall(f"{p}:h") == {"userId": "42", "role": "admin"}, f"HGETALL {r.hgetall(f'{p}:h')}")
    check(r.hgetall(f"{p}:nohash") == {}, "HGETALL missing")
    step(f"RESP{p} SADD/SMEMBERS")
    check(r.sadd(f"{p}:set", "a", "b", "c") == 3, "SADD")
    check(r.smembers(f"{p}:set") == {"a", "b", "c"}, f"SMEMBERS {r.smembers(f'{p}:set')}")
    step(f"RESP{p} EXPIRE/TTL")
    check(r.expire(f"{p}:h", 1800) is True, "EXPIRE")
    ttl = r.ttl(f"{p}:h")
    check(1795 <= ttl <= 1800, f"TTL {ttl}")
    check(r.ttl(f"{p}:s") == -1, "TTL no expiry")
    check(r.ttl(f"{p}:missing") == -2, "TTL missing")
    step(f"RESP{p} DEL")
    check(r.delete(f"{p}:s", f"{p}:h", f"{p}:missing") == 2, "DEL")
    check(r.exists(f"{p}:s", f"{p}:h") == 0, "EXISTS after DEL")


def pipelines(r, p):
    step(f"RESP{p} pipeline(transaction=False)")
    pipe = r.pipeline(transaction=False)
    pipe.set(f"{p}:p1", "a").get(f"{p}:p1").hset(f"{p}:ph", "f", "v").hgetall(f"{p}:ph").delete(f"{p}:p1")
    res = pipe.execute()
    check(res == [True, "a", 1, {"f": "v"}, 1], f"pipeline replies {res}")
    step(f"RESP{p} pipeline(transaction=True) = MULTI/EXEC")
    pipe = r.pipeline(transaction=True)
    pipe.set(f"{p}:t1", "x").expire(f"{p}:t1", 60).get(f"{p}:t1").sadd(f"{p}:ts", "m").smembers(f"{p}:ts")
    res = pipe.execute()
    check(res == [True, True, "x", 1, {"m"}], f"MULTI/EXEC replies {res}")


def watch_transaction(r, p):
    step(f"RESP{p} WATCH transaction (one conflict, then retry)")
    key = f"{p}:counter"
    r.set(key, "10")
    other = client(p)
    calls = []

    def bump(pipe):
        current = int(pipe.get(key))  # immediate mode after WATCH
        if not calls:
            other.set(key, "100")  # a concurrent writer: this EXEC must abort
        calls.append(current)
        pipe.multi()
        pipe.set(key, str(current + 1))

    res = r.transaction(bump, key)
    check(calls == [10, 100], f"transaction function saw {calls}, expected [10, 100] (a retry after the conflict)")
    check(res == [True], f"transaction result {res}")
    check(r.get(key) == "101", f"counter {r.get(key)}")
    other.close()


def wait_message(ps, seconds=2.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        m = ps.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if m is not None:
            return m
    return None


def pubsub(r, p):
    step(f"RESP{p} SUBSCRIBE/PUBLISH")
    ps = r.pubsub()
    ps.subscribe(f"ch{p}")
    m = ps.get_message(timeout=2)
    check(m is not None and m["type"] == "subscribe" and m["channel"] == f"ch{p}", f"subscribe confirmation {m}")
    n = r.publish(f"ch{p}", "hello")
    check(n == 1, f"PUBLISH receivers {n}")
    m = wait_message(ps)
    check(m is not None and m["type"] == "message" and m["data"] == "hello", f"message {m}")
    step(f"RESP{p} UNSUBSCRIBE")
    ps.unsubscribe(f"ch{p}")
    m = ps.get_message(timeout=2)
    check(m is not None and m["type"] == "unsubscribe", f"unsubscribe confirmation {m}")
    ps.close()

    step(f"RESP{p} PSUBSCRIBE __keyevent@0__:expired (server started with --notify-keyspace-events Ex)")
    ps = r.pubsub()
    ps.psubscribe("__keyevent@0__:expired")
    m = ps.get_message(timeout=2)
    check(m is not None and m["type"] == "psubscribe", f"psubscribe confirmation {m}")
    r.set(f"{p}:short", "v", px=100)
    m = wait_message(ps, 2.0)
    check(m is not None and m["type"] == "pmessage" and m["channel"] == "__keyevent@0__:expired"
          and m["data"] == f"{p}:short", f"expired event within 2 s: {m}")
    ps.close()


def pubsub_thread(r, p):
    # The run_in_thread style Spring-like listeners use: callbacks on a worker thread.
    step(f"RESP{p} pubsub.run_in_thread")
    got = threading.Event()
    seen = []
    ps = r.pubsub()
    ps.subscribe(**{f"th{p}": lambda m: (seen.append(m["data"]), got.set())})
    worker = ps.run_in_thread(sleep_time=0.05, daemon=True)
    try:
        deadline = time.monotonic() + 2
        while r.publish(f"th{p}", "x") == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        check(got.wait(2), f"callback not called; seen {seen}")
    finally:
        worker.stop()
        worker.join(2)
        ps.close()


def main():
    for p in (2, 3):
        r = client(p)
        if p == 3:
            step("RESP3 HELLO reply")
            info = r.execute_command("HELLO", "3")
            check(isinstance(info, dict) and info.get("proto") == 3 and info.get("server") == "redis", f"HELLO 3 {info}")
        basic(r, p)
        pipelines(r, p)
        watch_transaction(r, p)
        pubsub(r, p)
        pubsub_thread(r, p)
        r.close()
    # The default, as an unchanged application gets it (redis-py 8: HELLO 3).
    step("default protocol")
    r = redis.Redis(host=HOST, port=PORT, decode_responses=True, socket_timeout=5)
    check(r.set("default", "1") is True and r.get("default") == "1", "default-protocol SET/GET")
    r.close()


run("redis-py", main)
