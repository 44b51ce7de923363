# redis-py's client-side caching (RESP3 + CLIENT TRACKING, redis-py >= 5.1 CacheConfig) against
# Sesame: reads are served from the local cache until the server invalidates them; a write
# from another connection, a DEL (a revoked session), an expiry and FLUSHALL must each reach
# the cache before the next read returns, so no stale value is ever served.
import time

from cm_common import HOST, PORT, check, run, step

import redis
from redis.cache import CacheConfig
from redis.connection import CacheProxyConnection

# redis-py enables client-side caching only for servers that say they are Redis >= 7.4 in HELLO;
# the gate is the version string, not a capability check. Sesame reports 7.2.4 (the replies it
# follows) and implements CLIENT TRACKING as Redis 6+ defines it, so lower the gate to 7.0 (this
# script also passes against redis-server 7.0.15 with it).
CacheProxyConnection.MIN_ALLOWED_VERSION = "7.0.0"

def main():
    step("connect with protocol=3 and a cache")
    app = redis.Redis(host=HOST, port=PORT, protocol=3, cache_config=CacheConfig(max_size=1000),
                      decode_responses=True, single_connection_client=True)
    other = redis.Redis(host=HOST, port=PORT, decode_responses=True)
    other.flushall()
    cache = app.get_cache()
    check(cache is not None, "no cache object")


    def cached_keys():
        return sorted({k.redis_keys[0] if isinstance(k.redis_keys[0], str) else k.redis_keys[0].decode()
                       for k in cache.collection.keys()})


    step("a session read is cached, then served without a round trip")
    other.hset("sess:{u1}:abc", mapping={"userId": "u1", "role": "user"})
    check(app.hgetall("sess:{u1}:abc") == {"userId": "u1", "role": "user"}, "first read")
    check("sess:{u1}:abc" in cached_keys(), f"not cached: {cached_keys()}")
    info_before = int(other.info("stats")["total_commands_processed"])
    for _ in range(20):
        check(app.hgetall("sess:{u1}:abc")["role"] == "user", "cached read")
    info_after = int(other.info("stats")["total_commands_processed"])
    # Only the INFO call itself reached the server in between.
    check(info_after - info_before <= 2, f"cached reads reached the server: {info_after - info_before} commands")

    step("a write from another connection invalidates the cached session")
    other.hset("sess:{u1}:abc", "role", "admin")
    time.sleep(0.05)
    check(app.hgetall("sess:{u1}:abc")["role"] == "admin", "stale read after HSET from another client")

    step("revocation (DEL) invalidates: the next read sees no session")
    app.get("plain")
    other.delete("sess:{u1}:abc")
    time.sleep(0.05)
    check(app.hgetall("sess:{u1}:abc") == {}, "revoked session still served from the cache")

    step("expiry invalidates")
    other.set("ttl-key", "v", px=200)
    check(app.get("ttl-key") == "v", "read before expiry")
    time.sleep(0.5)
    check(app.get("ttl-key") is None, "expired key still served from the cache")

    step("FLUSHALL empties the cache")
    other.set("a", "1")
    check(app.get("a") == "1", "read a")
    other.flushall()
    time.sleep(0.05)
    check(app.get("a") is None, "flushed key still served from the cache")

    step("the app's own write invalidates its cache")
    app.set("own", "1")
    check(app.get("own") == "1", "read own")
    app.set("own", "2")
    check(app.get("own") == "2", "own write not seen")


run("redis-py-cache", main)
