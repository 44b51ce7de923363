import Testing
@testable import Sesame

/// Several OS threads, each with its own Client (as each event loop has its own), running
/// commands through the Dispatcher against one keyspace: shard locks must lose no update.
@Suite struct ConcurrencyTests {
    private static let threads = 4

    private func makeState(shards: Int = 16) -> ServerState {
        var cfg = Configuration()
        cfg.threads = Self.threads
        cfg.shards = shards
        return ServerState(configuration: cfg, clock: ManualClock())
    }

    /// Runs commands as client `id` on loop `id`; returns the concatenated replies.
    private static func execute(_ state: ServerState, _ client: Client, _ args: [String]) -> [UInt8] {
        client.output.clear()
        OwnedArguments(args).withArguments { Dispatcher.execute(client, $0) }
        return client.output.readableArray
    }

    private func reply(_ state: ServerState, _ args: String...) -> String {
        let c = Client(id: 999, server: state, output: ByteBuffer())
        return Self.execute(state, c, args).text
    }

    @Test func hsetDistinctFieldsToOneKey() {
        let state = makeState()
        let perThread = 1500
        let ok = runThreads(Self.threads) { t in
            let c = Client(id: t + 1, server: state, output: ByteBuffer(), loopIndex: t)
            for i in 0..<perThread {
                let r = Self.execute(state, c, ["HSET", "sess:{42}", "f\(t):\(i)", "v\(i)"])
                precondition(r == Array(":1\r\n".utf8), "HSET reply \(r.text)")
            }
        }
        #expect(ok, "threads did not finish")
        #expect(reply(state, "HLEN", "sess:{42}") == ":\(Self.threads * perThread)\r\n")
        #expect(reply(state, "HGET", "sess:{42}", "f3:1499") == "$5\r\nv1499\r\n")
    }

    @Test func hsetSmallHashStaysPackedUnderContention() {
        // 4 threads x 30 fields: 120 fields, below the packed limit, so the packed form is hit.
        let state = makeState()
        let ok = runThreads(Self.threads) { t in
            let c = Client(id: t + 1, server: state, output: ByteBuffer(), loopIndex: t)
            for round in 0..<50 {
                for i in 0..<30 { _ = Self.execute(state, c, ["HSET", "small", "f\(t):\(i)", "r\(round)"]) }
            }
        }
        #expect(ok)
        #expect(reply(state, "HLEN", "small") == ":120\r\n")
    }

    @Test func saddDistinctMembersToOneSet() {
        let state = makeState()
        let perThread = 1500
        let ok = runThreads(Self.threads) { t in
            let c = Client(id: t + 1, server: state, output: ByteBuffer(), loopIndex: t)
            for i in 0..<perThread {
                _ = Self.execute(state, c, ["SADD", "user_sessions:{42}", "m\(t):\(i)"])
                // Re-adding an existing member must not count twice.
                if i % 10 == 0 { _ = Self.execute(state, c, ["SADD", "user_sessions:{42}", "m\(t):0"]) }
            }
        }
        #expect(ok)
        #expect(reply(state, "SCARD", "user_sessions:{42}") == ":\(Self.threads * perThread)\r\n")
    }

    @Test func setDistinctKeysInSameAndDifferentShards() {
        let state = makeState()
        let perThread = 2000
        let ok = runThreads(Self.threads) { t in
            let c = Client(id: t + 1, server: state, output: ByteBuffer(), loopIndex: t)
            for i in 0..<perThread {
                // Spread keys, and keys that all share one tag (one shard, one lock).
                _ = Self.execute(state, c, ["SET", "k:\(t):\(i)", "v"])
                _ = Self.execute(state, c, ["SET", "{tag}:\(t):\(i)", "v"])
                // A session create as a session store does it: hash + set under one tag.
                _ = Self.execute(state, c, ["HSET", "sess:{u\(i)}:\(t)", "user", "u\(i)"])
                _ = Self.execute(state, c, ["SADD", "user_sessions:{u\(i)}", "sess:{u\(i)}:\(t)"])
            }
        }
        #expect(ok)
        // 2 strings + 1 hash per (thread, i), plus one set per i.
        #expect(state.keyspace.keyCount(db: 0) == Self.threads * perThread * 3 + perThread)
        #expect(reply(state, "SCARD", "user_sessions:{u7}") == ":\(Self.threads)\r\n")
        let tagShard = HashSlot.of("{tag}:0:0") & (state.keyspace.shards.count - 1)
        #expect(state.keyspace.shards[tagShard].tables[0].count >= Self.threads * perThread)
    }

    @Test func multiKeyDeleteAcrossShardsDoesNotDeadlock() {
        let state = makeState(shards: 8)
        let keys = (0..<16).map { "key\($0)" }
        let shardsUsed = Set(keys.map { HashSlot.of($0) & 7 })
        #expect(shardsUsed.count > 3, "the keys should span several shards")
        let ok = runThreads(Self.threads, timeout: .seconds(30)) { t in
            let c = Client(id: t + 1, server: state, output: ByteBuffer(), loopIndex: t)
            // Every thread uses a different key order, so lock order would matter without sorting.
            var order = keys
            if t % 2 == 1 { order.reverse() }
            if t >= 2 { order = Array(order[(t * 3)...] + order[..<(t * 3)]) }
            for _ in 0..<1000 {
                for k in order.prefix(4) { _ = Self.execute(state, c, ["SET", k, "v"]) }
                _ = Self.execute(state, c, ["DEL"] + order)
                _ = Self.execute(state, c, ["EXISTS"] + order.reversed())
            }
        }
        #expect(ok, "multi-key commands deadlocked (or were far too slow)")
    }

    @Test func withShardsLocksEachShardOnceAscending() {
        let ks = Keyspace(databases: 1, shardCount: 8, clock: ManualClock())
        // Duplicates and any order: must not self-deadlock, and must release everything.
        let r = ks.withShards([5, 1, 5, 3, 1, 0, 7]) { 42 }
        #expect(r == 42)
        let ok = runThreads(Self.threads) { t in
            for i in 0..<20_000 {
                let a = (i + t) & 7, b = (i * 3 + t * 5) & 7, c = (7 - i - t) & 7
                ks.withShards(t % 2 == 0 ? [a, b, c] : [c, b, a]) {}
            }
        }
        #expect(ok, "withShards deadlocked")
        ks.withAllShards {}
    }
}
