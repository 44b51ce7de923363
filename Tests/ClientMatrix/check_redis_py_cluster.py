# redis-py's cluster client (RedisCluster), unchanged, against `sesame-server --cluster-enabled
# yes`: it reads the slot map, routes by slot, runs the session operations (hash + set sharing a
# {hash tag}, TTLs, pipelines, MGET within a slot), and sees Redis Cluster's CROSSSLOT refusal
# for a request spanning slots. Also the same against a real Redis Cluster (any node port).
import redis
from redis.cluster import RedisCluster, ClusterNode
from redis.exceptions import ResponseError, RedisClusterException

from cm_common import HOST, PORT, check, run, step


def main():
    for proto in (2, 3):
        step(f"RedisCluster connect (RESP{proto})")
        rc = RedisCluster(startup_nodes=[ClusterNode(HOST, PORT)], decode_responses=True,
                          protocol=proto, socket_timeout=5)
        nodes = rc.get_nodes()
        check(len(nodes) >= 1, f"nodes {nodes}")
        check(all(n.server_type == "primary" for n in nodes), f"primaries {nodes}")
        check(rc.cluster_info(target_nodes=RedisCluster.RANDOM)["cluster_state"] == "ok", "cluster_state")
        check(rc.keyslot("sess:{42}:abc") == rc.keyslot("user_sessions:{42}"), "hash tags share a slot")

        step("session create: HSET + EXPIRE + SADD in one slot")
        sid = f"sess:{{42}}:p{proto}"
        index = "user_sessions:{42}"
        rc.delete(sid, index)
        check(rc.hset(sid, mapping={"userId": "42", "ip": "10.0.0.1"}) == 2, "HSET")
        check(rc.expire(sid, 1800) is True, "EXPIRE")
        check(rc.sadd(index, sid) == 1, "SADD")
        check(rc.hgetall(sid) == {"userId": "42", "ip": "10.0.0.1"}, "HGETALL")
        check(0 < rc.ttl(sid) <= 1800, "TTL")
        check(sid in rc.smembers(index), "SMEMBERS")

        step("multi-key commands within one slot")
        check(rc.mget(sid + ":a", sid + ":b") == [None, None], "MGET same slot")
        rc.set("{42}:x", "1")
        check(rc.delete("{42}:x", "{42}:y") == 1, "DEL same slot")

        step("keys spread over slots (client-side routing)")
        for i in range(50):
            rc.set(f"spread:{i}", str(i), ex=600)
        check([rc.get(f"spread:{i}") for i in range(50)] == [str(i) for i in range(50)], "GET spread")
        # redis-py splits a cross-slot MGET per slot itself.
        check(rc.mget_nonatomic([f"spread:{i}" for i in range(10)]) == [str(i) for i in range(10)], "mget_nonatomic")

        step("pipeline")
        with rc.pipeline() as p:
            for i in range(20):
                p.delete(f"sess:{{{i}}}:pipe")
                p.hset(f"sess:{{{i}}}:pipe", "n", i)
                p.expire(f"sess:{{{i}}}:pipe", 60)
            out = p.execute()
        check([x for j, x in enumerate(out) if j % 3] == [1, True] * 20, f"pipeline {out[:6]}")

        step("CROSSSLOT for a request spanning slots")
        try:
            rc.mget("spread:1", "spread:2")
            raise AssertionError("cross-slot MGET was accepted")
        except RedisClusterException as e:  # redis-py refuses it client-side...
            check("same key slot" in str(e), f"client-side error text {e}")
        # ... and the node refuses it too when sent on the node's own connection.
        try:
            rc.get_default_node().redis_connection.execute_command("MGET", "spread:1", "spread:2")
            raise AssertionError("cross-slot MGET was accepted by the node")
        except ResponseError as e:
            check("don't hash to the same slot" in str(e), f"error text {e}")  # redis-py drops the CROSSSLOT code

        step("log out everywhere: SMEMBERS + DEL per session + DEL index")
        for s in rc.smembers(index):
            rc.delete(s)
        check(rc.delete(index) == 1, "DEL index")
        check(rc.exists(sid) == 0, "session gone")
        for i in range(50):
            rc.delete(f"spread:{i}")
        rc.close()


run("redis-py-cluster", main)
