// Sesame's cluster compatibility against a real Redis Cluster node: a redis-server started with
// --cluster-enabled that owns all 16384 slots (a one-node cluster) is the reference for
// `cluster-enabled yes` and for `cluster-check yes`. Replies are compared byte for byte, except
// topology replies, compared with node id, address and port replaced by placeholders.

import Foundation
import Sesame
import Testing

@Suite("Cluster mode against a redis-server cluster node",
       .enabled(if: ExternalTools.redisServerEnabled, "redis-server is not on PATH (set CI=true to make this a failure)"))
struct ClusterDifferentialTests {

    /// The requests a cluster refuses or answers specially, for both cluster-enabled and
    /// cluster-check Sesame.
    static func crossSlotScript(_ d: Differential) throws {
        try d.check("SET", "a", "1")
        try d.check("SET", "{a}x", "2")
        for args in [["MGET", "a", "b"], ["MGET", "a", "{a}x"], ["MGET", "a"], ["DEL", "a", "b"],
                     ["EXISTS", "a", "b"], ["UNLINK", "x", "y"], ["TOUCH", "a", "b"],
                     ["RENAME", "a", "b"], ["RENAMENX", "a", "b"], ["COPY", "a", "b"],
                     ["MSET", "a", "1", "b", "2"], ["MSETNX", "a", "1", "b", "2"],
                     ["MSET", "{u}1", "1", "{u}2", "2"],
                     ["SINTER", "a", "b"], ["SUNION", "s", "t"], ["SDIFF", "s", "t"],
                     ["SINTERSTORE", "d", "s", "t"], ["SUNIONSTORE", "{s}d", "s", "{s}t"],
                     ["SDIFFSTORE", "d", "s"], ["SMOVE", "s", "t", "m"], ["SMOVE", "s", "{s}t", "m"],
                     ["SINTERCARD", "2", "s", "t"], ["SINTERCARD", "2", "s", "{s}t"], ["SINTERCARD", "1", "s", "t"],
                     ["SINTERCARD", "5", "s", "t"], ["SINTERCARD", "x", "s", "t"],
                     ["WATCH", "a", "b"], ["WATCH", "a", "{a}x"], ["UNWATCH"],
                     ["MGET", "a", "nosuch", "{a}x"], ["DEL", "{a}x", "a"], ["GET", "a"]] {
            try d.check(args: args)
        }
        // Transactions: refused at queue time (EXECABORT), and across commands at EXEC.
        for script in [[["MULTI"], ["SET", "a", "1"], ["MGET", "a", "b"], ["SET", "b", "2"], ["EXEC"]],
                       [["MULTI"], ["SET", "a", "1"], ["SET", "{a}x", "2"], ["GET", "a"], ["EXEC"]],
                       [["MULTI"], ["SET", "a", "1"], ["GET", "b"], ["PING"], ["EXEC"], ["EXEC"]],
                       [["MULTI"], ["PING"], ["DBSIZE"], ["EXEC"]],
                       [["WATCH", "a"], ["MULTI"], ["INCR", "{a}n"], ["GET", "b"], ["EXEC"], ["EXEC"]],
                       [["MULTI"], ["NOSUCH"], ["GET", "a"], ["GET", "b"], ["EXEC"]],
                       [["MULTI"], ["MSET", "x", "1", "y", "2"], ["DISCARD"]],
                       [["MULTI"], ["WATCH", "a", "b"], ["GET", "a"], ["EXEC"]],
                       [["MULTI"], ["WATCH", "a"], ["EXEC"]],
                       [["MULTI"], ["GET", "a"], ["MGET", "a", "b"], ["DISCARD"], ["EXEC"]]] {
            for args in script { try d.check(args: args) }
        }
        // Databases other than 0 do not exist in a cluster.
        for args in [["SELECT", "1"], ["SELECT", "0"], ["SELECT", "x"], ["SELECT", "99999999999"],
                     ["SWAPDB", "0", "1"], ["COPY", "a", "{a}c", "DB", "1"], ["COPY", "a", "{a}c", "DB", "0"],
                     ["COPY", "a", "b", "DB", "1"], ["MULTI"], ["SELECT", "2"], ["EXEC"]] {
            try d.check(args: args)
        }
    }

    @Test("cluster-enabled: CROSSSLOT, MULTI/EXEC, SELECT/SWAPDB/COPY DB, byte for byte")
    func crossSlotClusterEnabled() throws {
        let dir = try ScratchDirectory("sesame-cluster")
        let d = try Differential(redis: .startClusterNode(in: dir),
                                 sesame: SesameInstance { $0.clusterEnabled = true })
        try Self.crossSlotScript(d)
    }

    @Test("cluster-check on a standalone Sesame refuses what the cluster node refuses")
    func crossSlotClusterCheck() throws {
        let dir = try ScratchDirectory("sesame-cluster")
        let d = try Differential(redis: .startClusterNode(in: dir),
                                 sesame: SesameInstance { $0.clusterCheck = true })
        try Self.crossSlotScript(d)
    }

    @Test("CLUSTER KEYSLOT / COUNTKEYSINSLOT / GETKEYSINSLOT and their errors")
    func slotCommands() throws {
        let dir = try ScratchDirectory("sesame-cluster")
        let d = try Differential(redis: .startClusterNode(in: dir),
                                 sesame: SesameInstance { $0.clusterEnabled = true })
        for key in ["foo", "foo{bar}", "{bar}", "{}", "{}x", "a{b}{c}", "{{a}}", "", "123456789", "user:{42}:sessions", "\u{00e9}t\u{00e9}"] {
            try d.check("CLUSTER", "KEYSLOT", key)
        }
        try d.checkRaw(RESPClient.encode([bytes("CLUSTER"), bytes("KEYSLOT"), [0xff, 0x00, 0x7b, 0x01, 0x7d]]))
        for i in 0..<20 { try d.check("SET", "{s}k\(i)", "v") }
        try d.check("SET", "other", "v")
        try d.check("SADD", "{s}set", "m")
        try d.check("HSET", "{s}h", "f", "v")
        let slot = String(HashSlot.of("s"))
        try d.check("CLUSTER", "COUNTKEYSINSLOT", slot)
        try d.check("CLUSTER", "COUNTKEYSINSLOT", "0")
        try d.check("CLUSTER", "COUNTKEYSINSLOT", "16383")
        try d.checkUnordered("CLUSTER", "GETKEYSINSLOT", slot, "100")
        try d.check("CLUSTER", "GETKEYSINSLOT", slot, "0")
        try d.check("CLUSTER", "GETKEYSINSLOT", "0", "10")
        try d.check("CLUSTER", "GETKEYSINSLOT", String(HashSlot.of("other")), "5")
        for bad in [["COUNTKEYSINSLOT", "16384"], ["COUNTKEYSINSLOT", "-1"], ["COUNTKEYSINSLOT", "x"],
                    ["COUNTKEYSINSLOT", "99999999999999999999"], ["COUNTKEYSINSLOT"], ["COUNTKEYSINSLOT", "1", "2"],
                    ["GETKEYSINSLOT", "16384", "1"], ["GETKEYSINSLOT", "0", "-1"], ["GETKEYSINSLOT", "x", "1"],
                    ["GETKEYSINSLOT", "1", "x"], ["GETKEYSINSLOT", "1"], ["KEYSLOT"], ["KEYSLOT", "a", "b"],
                    ["NOSUCH"], ["MYID", "x"], ["INFO", "x"]] {
            try d.check(args: ["CLUSTER"] + bad)
        }
        try d.check("CLUSTER")
        for args in [["READONLY"], ["READWRITE"], ["ASKING"], ["READONLY", "x"]] { try d.check(args: args) }
        try d.check("INFO", "cluster")
        try d.check("CONFIG", "GET", "cluster-enabled")
    }

    @Test("CLUSTER SLOTS / SHARDS / NODES / INFO / MYID and HELLO: same shape in RESP2 and RESP3")
    func topologyShape() throws {
        let dir = try ScratchDirectory("sesame-cluster")
        let d = try Differential(redis: .startClusterNode(in: dir),
                                 sesame: SesameInstance { $0.clusterEnabled = true })
        let redisNode = try NodeIdentity.of(d.r), sesameNode = try NodeIdentity.of(d.s)
        #expect(redisNode.id.count == 40 && sesameNode.id.count == 40)
        #expect(sesameNode.id.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(sesameNode.ip == "127.0.0.1")
        #expect(sesameNode.port == d.sesame.port)
        for proto in ["2", "3"] {
            let (hr, hs) = try d.replies(RESPClient.encode(["HELLO", proto]))
            #expect(try helloMode(hr) == "cluster")
            #expect(try helloMode(hs) == "cluster")
            for sub in ["SLOTS", "SHARDS", "NODES", "INFO", "MYID"] {
                let (a, b) = try d.replies(RESPClient.encode(["CLUSTER", sub]))
                let na = redisNode.normalize(try RESPValue.parse(a)), nb = sesameNode.normalize(try RESPValue.parse(b))
                #expect(na == nb, "CLUSTER \(sub) (RESP\(proto)):\n  redis:  \(na)\n  sesame: \(nb)")
            }
        }
    }

    @Test("Standalone: KEYSLOT family works on Sesame; other CLUSTER subcommands as disabled Redis")
    func standalone() throws {
        let d = try Differential()
        for args in [["CLUSTER", "INFO"], ["CLUSTER", "SLOTS"], ["CLUSTER", "MYID"], ["CLUSTER", "NODES"],
                     ["CLUSTER", "SHARDS"], ["CLUSTER", "NOSUCH"], ["CLUSTER", "HELP"], ["CLUSTER", "MEET", "127.0.0.1", "1"],
                     ["CLUSTER", "ADDSLOTS", "1"], ["CLUSTER", "RESET"],
                     ["READONLY"], ["READWRITE"], ["ASKING"], ["MGET", "a", "b"], ["SELECT", "1"], ["SELECT", "0"],
                     ["INFO", "cluster"]] {
            try d.check(args: args)
        }
        // Redis refuses these without cluster support; Sesame answers them (how keys would spread).
        let c = try d.sesame.client()
        defer { c.close() }
        #expect(try c.call("CLUSTER", "KEYSLOT", "foo") == bytes(":12182\r\n"))
        _ = try c.call("SET", "foo", "1")
        #expect(try c.call("CLUSTER", "COUNTKEYSINSLOT", "12182") == bytes(":1\r\n"))
        #expect(try c.call("CLUSTER", "GETKEYSINSLOT", "12182", "3") == bytes("*1\r\n$3\r\nfoo\r\n"))
    }

    @Test("cluster-check is CONFIG SET-able, and cluster-enabled keeps the checks on")
    func clusterCheckToggle() throws {
        let sesame = try SesameInstance()
        let c = try sesame.client()
        defer { c.close() }
        #expect(try c.call("MGET", "a", "b") == bytes("*2\r\n$-1\r\n$-1\r\n"))
        #expect(try c.call("CONFIG", "GET", "cluster-check") == bytes("*2\r\n$13\r\ncluster-check\r\n$2\r\nno\r\n"))
        #expect(try c.call("CONFIG", "SET", "cluster-check", "yes") == bytes("+OK\r\n"))
        #expect(try c.call("MGET", "a", "b") == bytes("-CROSSSLOT Keys in request don't hash to the same slot\r\n"))
        #expect(try c.call("SELECT", "1") == bytes("-ERR SELECT is not allowed in cluster mode\r\n"))
        #expect(try c.call("CLUSTER", "INFO") == bytes("-ERR This instance has cluster support disabled\r\n"))
        #expect(try c.call("CONFIG", "SET", "cluster-check", "maybe")
                == bytes("-ERR CONFIG SET failed (possibly related to argument 'cluster-check') - argument must be 'yes' or 'no'\r\n"))
        #expect(try c.call("CONFIG", "SET", "cluster-check", "no") == bytes("+OK\r\n"))
        #expect(try c.call("MGET", "a", "b") == bytes("*2\r\n$-1\r\n$-1\r\n"))
        #expect(try c.call("CONFIG", "SET", "cluster-enabled", "yes")
                == bytes("-ERR CONFIG SET failed (possibly related to argument 'cluster-enabled') - can't set immutable config\r\n"))

        let node = try SesameInstance { $0.clusterEnabled = true }
        let n = try node.client()
        defer { n.close() }
        #expect(try n.call("CONFIG", "SET", "cluster-check", "no") == bytes("+OK\r\n"))
        #expect(try n.call("MGET", "a", "b") == bytes("-CROSSSLOT Keys in request don't hash to the same slot\r\n"))
    }

    private func helloMode(_ raw: [UInt8]) throws -> String? {
        switch try RESPValue.parse(raw) {
        case .map(let pairs): return pairs.first { $0.0.string == "mode" }?.1.string
        case .array(let a):
            return stride(from: 0, to: a.count - 1, by: 2).first { a[$0].string == "mode" }.map { a[$0 + 1].string ?? "" }
        default: return nil
        }
    }
}
