// Cluster-mode clients, unchanged, against `sesame-server --cluster-enabled yes`: redis-py's
// RedisCluster and node-redis's createCluster discover the one-node cluster through CLUSTER
// SLOTS, route by slot and run the session operations (Tests/ClientMatrix/*_cluster.*).

import Foundation
import Testing

@Suite("Cluster-mode clients against sesame-server --cluster-enabled yes", .serialized)
struct ClusterClientTests {
    @Test("redis-py RedisCluster (RESP2 + RESP3): discovery, routing, session ops, pipeline, CROSSSLOT",
          .enabled(if: ClientMatrix.python(imports: "redis") || ClientMatrix.isCI,
                   "python3 with redis-py is missing (pip install redis); CI=true makes this a failure"))
    func redisPyCluster() async throws {
        try ClientMatrix.requirePython(imports: "redis")
        let server = try ClientMatrixServer(extraArguments: ["--cluster-enabled", "yes"])
        defer { server.stop() }
        try await ClientMatrix.runCheck("python3", "check_redis_py_cluster.py", server: server,
                                        marker: "CLIENTMATRIX PASS redis-py-cluster")
    }

    @Test("node-redis createCluster: discovery, routing, session ops, MULTI on one slot, CROSSSLOT",
          .enabled(if: ClientMatrix.nodeRedis || ClientMatrix.isCI,
                   "node or node-redis is missing (apt-get install node-redis); CI=true makes this a failure"))
    func nodeRedisCluster() async throws {
        guard ClientMatrix.nodeRedis else {
            throw ClientMatrixFailure("CI=true but node cannot require('redis') (NODE_PATH=\(ClientMatrix.nodePath)): "
                                      + "apt-get install node-redis (and nodejs)")
        }
        let server = try ClientMatrixServer(extraArguments: ["--cluster-enabled", "yes"])
        defer { server.stop() }
        try await ClientMatrix.runCheck("node", "check_node_redis_cluster.js", server: server,
                                        marker: "CLIENTMATRIX PASS node-redis-cluster")
    }
}
