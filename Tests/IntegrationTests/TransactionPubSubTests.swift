// MULTI/EXEC/WATCH and Pub/Sub: differential against redis-server where the replies are
// deterministic, and Sesame-only tests for what needs several threads (cross-shard atomicity,
// WATCH invalidated from another loop) or a configured server (keyspace notifications).

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Sesame
import Synchronization
import Testing

@Suite("Transactions and Pub/Sub against redis-server",
       .enabled(if: ExternalTools.redisServerEnabled, "redis-server is not on PATH (set CI=true to make this a failure)"))
struct TransactionPubSubDifferentialTests {
    /// A second connection to each server, for the "other client" in WATCH and PUBLISH.
    func others(_ d: Differential) throws -> (RESPClient, RESPClient) {
        (try RESPClient(port: d.redis.port), try d.sesame.client())
    }

    func both(_ pair: (RESPClient, RESPClient), _ args: String...) throws -> ([UInt8], [UInt8]) {
        (try pair.0.call(args: args), try pair.1.call(args: args))
    }

    @Test("MULTI/EXEC/DISCARD, queued errors, EXECABORT, nesting")
    func multiExec() throws {
        let d = try Differential()
        try d.check("MULTI")
        try d.check("SET", "k", "v")
        try d.check("GET", "k")
        try d.check("HSET", "k", "f", "v")  // fails at EXEC time: WRONGTYPE inside the array
        try d.check("SADD", "s", "a", "b")
        try d.check("EXEC")
        try d.check("EXEC")
        try d.check("DISCARD")
        try d.check("MULTI")
        try d.check("MULTI")
        try d.check("WATCH", "k")
        try d.check("SET", "k", "w")
        try d.check("DISCARD")
        try d.check("GET", "k")
        try d.check("MULTI")
        try d.check("NOSUCHCOMMAND", "x")
        try d.check("SET", "k")
        try d.check("SET", "k", "never")
        try d.check("EXEC")
        try d.check("GET", "k")
        try d.check("MULTI")
        try d.check("EXEC")
        try d.check("UNWATCH")
        try d.check("WATCH")
    }

    @Test("WATCH: a write from another client, DEL, FLUSHALL and expiry abort EXEC")
    func watch() throws {
        let d = try Differential()
        let o = try others(d)
        try d.check("SET", "w", "1")
        try d.check("WATCH", "w")
        _ = try both(o, "SET", "w", "2")
        try d.check("MULTI")
        try d.check("GET", "w")
        try d.check("EXEC")                  // *-1: aborted
        try d.check("WATCH", "w")
        try d.check("MULTI")
        try d.check("GET", "w")
        try d.check("EXEC")                  // untouched: runs
        try d.check("WATCH", "w", "nokey")
        _ = try both(o, "DEL", "w")
        try d.check("MULTI")
        try d.check("EXEC")
        try d.check("SET", "w", "3")
        try d.check("WATCH", "w")
        _ = try both(o, "FLUSHALL")
        try d.check("MULTI")
        try d.check("EXEC")
        try d.check("SET", "t", "v", "PX", "100")
        try d.check("WATCH", "t")
        usleep(250_000)
        try d.check("MULTI")
        try d.check("EXEC")                  // expired since WATCH: aborted
        try d.check("WATCH", "missing")
        _ = try both(o, "SET", "missing", "now")
        try d.check("MULTI")
        try d.check("EXEC")
        try d.check("WATCH", "x")
        try d.check("UNWATCH")
        _ = try both(o, "SET", "x", "1")
        try d.check("MULTI")
        try d.check("EXEC")                  // UNWATCH forgot x: runs
    }

    @Test("SUBSCRIBE, PSUBSCRIBE, PUBLISH, PUBSUB, subscribed-mode rules, RESP3 push")
    func pubsub() throws {
        let d = try Differential()
        let o = try others(d)
        try d.check("SUBSCRIBE", "news")
        try d.check("GET", "x")
        try d.check("PING")
        try d.check("PING", "hi")
        try d.check("PSUBSCRIBE", "n*")
        let published = try both(o, "PUBLISH", "news", "hello")
        #expect(published.0 == published.1)
        let r1 = try d.r.readReply(), s1 = try d.s.readReply()
        #expect(r1 == s1, "message: \(printable(r1)) vs \(printable(s1))")
        let r2 = try d.r.readReply(), s2 = try d.s.readReply()
        #expect(r2 == s2, "pmessage: \(printable(r2)) vs \(printable(s2))")
        let numsub = try both(o, "PUBSUB", "NUMSUB", "news", "none")
        #expect(numsub.0 == numsub.1)
        let numpat = try both(o, "PUBSUB", "NUMPAT")
        #expect(numpat.0 == numpat.1)
        let channels = try both(o, "PUBSUB", "CHANNELS")
        #expect(channels.0 == channels.1)
        let noSubscriber = try both(o, "PUBLISH", "nobody", "x")
        #expect(noSubscriber.0 == noSubscriber.1)
        try d.check("UNSUBSCRIBE", "news")
        try d.check("PUNSUBSCRIBE")
        try d.check("UNSUBSCRIBE")
        try d.check("PUNSUBSCRIBE", "nothing")
        try d.check("GET", "x")               // no longer subscribed
        try d.reconnect()
        _ = try d.replies(RESPClient.encode(["HELLO", "3"]))  // versions differ: not compared
        try d.check("SUBSCRIBE", "c3")
        _ = try both(o, "PUBLISH", "c3", "m")
        let r3 = try d.r.readReply(), s3 = try d.s.readReply()
        #expect(r3 == s3, "RESP3 push: \(printable(r3)) vs \(printable(s3))")
        try d.check("GET", "x")               // RESP3: allowed while subscribed
    }
}

@Suite("Keyspace notifications against redis-server",
       .enabled(if: ExternalTools.redisServerEnabled, "redis-server is not on PATH (set CI=true to make this a failure)"))
struct KeyspaceNotificationDifferentialTests {
    /// The same writes on both servers; the keyevent messages a subscriber receives must be
    /// the same bytes in the same order.
    @Test func writeEventsMatchRedis() throws {
        let d = try Differential()
        try d.check("CONFIG", "SET", "notify-keyspace-events", "KEA")
        try d.check("CONFIG", "GET", "notify-keyspace-events")
        let sub = (try RESPClient(port: d.redis.port), try d.sesame.client())
        _ = (try sub.0.call("PSUBSCRIBE", "__keyevent@0__:*"), try sub.1.call("PSUBSCRIBE", "__keyevent@0__:*"))
        let writes: [[String]] = [
            ["SET", "a", "1"], ["SET", "b", "1", "EX", "100"], ["SETEX", "c", "100", "v"], ["SETNX", "d", "v"],
            ["EXPIRE", "a", "100"], ["PERSIST", "a"], ["DEL", "a", "zz", "b"], ["HSET", "h", "f", "v"],
            ["HDEL", "h", "f"], ["SADD", "s", "m"], ["SADD", "s", "m"], ["SREM", "s", "m"], ["EXPIRE", "c", "-1"],
            ["INCR", "n"], ["APPEND", "n", "0"], ["RENAME", "n", "n2"], ["GETDEL", "n2"],
        ]
        for w in writes { try d.check(args: w) }
        try d.check("PING")  // every event of the writes above has been published by now
        var redisEvents: [[UInt8]] = [], sesameEvents: [[UInt8]] = []
        for _ in 0..<22 {
            redisEvents.append(try sub.0.readReply())
            sesameEvents.append(try sub.1.readReply())
        }
        for (r, s) in zip(redisEvents, sesameEvents) {
            #expect(r == s, "event: redis \(printable(r)) sesame \(printable(s))")
        }
    }
}

@Suite("Transactions and Pub/Sub, Sesame only", .serialized)
struct TransactionPubSubTests {
    /// Writers set keys in different shards to one common value inside MULTI/EXEC while a
    /// reader reads them all in its own transactions: a reader must never see a mix.
    @Test func execIsAtomicAcrossShards() throws {
        let sesame = try SesameInstance(threads: 2)
        let keys = ["acct:{a}", "acct:{b}", "acct:{c}", "acct:{d}"]
        let shards = Set(keys.map { sesame.server.keyspace.shardIndex(Array($0.utf8).withUnsafeBytes { $0 }) })
        #expect(shards.count > 1)
        let setup = try sesame.client()
        for k in keys { _ = try setup.call("SET", k, "0") }
        let writers = 2, rounds = 300
        let failures = Mutex(0)
        let port = sesame.port
        DispatchQueue.concurrentPerform(iterations: writers + 1) { w in
            do {
                let c = try RESPClient(port: port)
                for i in 0..<rounds {
                    if w < writers {
                        _ = try c.call("MULTI")
                        for k in keys { _ = try c.call("SET", k, "\(w)-\(i)") }
                        _ = try c.call("EXEC")
                    } else {
                        _ = try c.call("MULTI")
                        for k in keys { _ = try c.call("GET", k) }
                        let reply = try RESPValue.parse(try c.call("EXEC"))
                        guard case .array(let items) = reply else { continue }
                        let values = items.map { item -> String in
                            if case .bulk(let b) = item { return String(decoding: b, as: UTF8.self) }
                            return "?"
                        }
                        if values.count != 4 || Set(values).count != 1 { failures.withLock { $0 += 1 } }
                    }
                }
            } catch {
                failures.withLock { $0 += 1000 }
            }
        }
        #expect(failures.withLock { $0 } == 0)
    }

    @Test func watchSeesAWriteFromAnotherLoop() throws {
        let sesame = try SesameInstance(threads: 2)
        var aborted = 0
        for _ in 0..<20 {
            let a = try sesame.client(), b = try sesame.client()
            _ = try a.call("SET", "w", "0")
            _ = try a.call("WATCH", "w")
            _ = try b.call("SET", "w", "1")
            _ = try a.call("MULTI")
            _ = try a.call("SET", "w", "mine")
            if try a.call("EXEC") == bytes("*-1\r\n") { aborted += 1 }
        }
        #expect(aborted == 20)
    }

    @Test func expiredEventIsPublishedByTheTimerWheel() throws {
        var cfg = Configuration(port: 0, threads: 2)
        cfg.bindAddresses = ["127.0.0.1"]
        cfg.notifyKeyspaceEvents = "Ex"
        let clock = ManualClock(startingAt: 1_800_000_000_000)
        let server = SesameServer(configuration: cfg, clock: clock)
        try server.start()
        defer { server.stop() }
        let sub = try RESPClient(port: server.port)
        _ = try sub.call("SUBSCRIBE", "__keyevent@0__:expired")
        let c = try RESPClient(port: server.port)
        _ = try c.call("SET", "sess:{1}:a", "v", "PX", "1000")
        clock.advance(milliseconds: 1001)  // no access: only the wheel can notice
        let message = try sub.readReply()
        #expect(message == bytes("*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:expired\r\n$10\r\nsess:{1}:a\r\n"))
    }
}
