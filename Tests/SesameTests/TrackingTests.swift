// CLIENT TRACKING in process: every path that changes a key (writes, DEL, RENAME, lazy and
// active expiry, eviction, FLUSHDB/FLUSHALL, SWAPDB) must invalidate a remembered key, on a
// manual clock and with the invalidations read straight from the event loop's mailbox. The
// wire format and Redis parity are in IntegrationTests/TrackingTests.swift.

import Synchronization
import Testing
@testable import Sesame

/// A harness whose client looks like a RESP3 connection (fd/tag set), so invalidations for it
/// are posted to mailbox 0, plus a second client that writes.
private struct TrackingHarness {
    let h: CommandHarness
    let writer: Client

    init(shards: Int = 16) {
        h = CommandHarness(shards: shards)
        h.client.fd = 7
        h.client.connectionTag = 1
        writer = Client(id: 2, server: h.state, output: ByteBuffer())
        h.run("HELLO", "3")
    }

    @discardableResult
    func write(_ args: String...) -> String {
        writer.output.clear()
        OwnedArguments(args).withArguments { Dispatcher.execute(writer, $0) }
        return writer.output.readableArray.text
    }

    /// Invalidation messages posted for the tracking client, as text.
    func pushes() -> [String] {
        h.state.pubsub.mailboxes[0].take().filter { $0.fd == 7 }.map { $0.bytes.text }
    }

    static func push(_ key: String) -> String { ">2\r\n$10\r\ninvalidate\r\n*1\r\n$\(key.utf8.count)\r\n\(key)\r\n" }
    static let nullPush = ">2\r\n$10\r\ninvalidate\r\n_\r\n"
}

@Suite("Client tracking: invalidation on every change path")
struct TrackingTests {
    @Test("nobody tracking: no table entries, no gate")
    func idle() {
        let t = TrackingHarness()
        t.h.run("SET", "k", "v")
        t.h.run("GET", "k")
        #expect(t.h.state.tracking.active.load(ordering: .relaxed) == 0)
        #expect(t.h.keyspace.shards.allSatisfy { $0.tracked.isEmpty })
        #expect(t.pushes().isEmpty)
    }

    @Test("a read is remembered; a write invalidates once; the entry is then gone")
    func readThenWrite() {
        let t = TrackingHarness()
        #expect(t.h.run("CLIENT", "TRACKING", "on") == "+OK\r\n")
        t.h.run("GET", "k")
        #expect(t.h.state.tracking.totalKeys.load(ordering: .relaxed) == 1)
        t.write("SET", "k", "1")
        #expect(t.pushes() == [TrackingHarness.push("k")])
        t.write("SET", "k", "2")
        #expect(t.pushes().isEmpty)
        #expect(t.h.state.tracking.totalKeys.load(ordering: .relaxed) == 0)
        // Writes through a write command are not remembered (INCR is not readonly).
        t.h.run("INCR", "n")
        t.write("INCR", "n")
        #expect(t.pushes().isEmpty)
    }

    @Test("DEL, RENAME (both keys), HSET, SADD, EXPIRE, PERSIST each invalidate")
    func writePaths() {
        let t = TrackingHarness()
        t.h.run("CLIENT", "TRACKING", "on")
        t.write("SET", "a", "1")
        t.h.run("MGET", "a", "b")
        t.write("RENAME", "a", "b")
        #expect(Set(t.pushes()) == [TrackingHarness.push("a"), TrackingHarness.push("b")])
        t.h.run("EXISTS", "b")
        t.write("DEL", "b")
        #expect(t.pushes() == [TrackingHarness.push("b")])
        t.h.run("HGETALL", "h")
        t.write("HSET", "h", "f", "v")
        #expect(t.pushes() == [TrackingHarness.push("h")])
        t.h.run("SMEMBERS", "s")
        t.write("SADD", "s", "x")
        #expect(t.pushes() == [TrackingHarness.push("s")])
        t.h.run("TTL", "h")
        t.write("EXPIRE", "h", "100")
        #expect(t.pushes() == [TrackingHarness.push("h")])
        t.h.run("HGET", "h", "f")
        t.write("PERSIST", "h")
        #expect(t.pushes() == [TrackingHarness.push("h")])
    }

    @Test("lazy expiry (a read after the deadline) and active expiry (the timer wheel) invalidate")
    func expiry() {
        let t = TrackingHarness()
        t.h.run("CLIENT", "TRACKING", "on")
        t.write("SET", "lazy", "v", "PX", "100")
        t.write("SET", "active", "v", "PX", "100")
        t.h.run("GET", "lazy")
        t.h.run("GET", "active")
        t.h.clock.advance(milliseconds: 200)
        t.write("GET", "lazy")
        #expect(t.pushes() == [TrackingHarness.push("lazy")])
        t.h.expireUntilIdle()
        #expect(t.pushes() == [TrackingHarness.push("active")])
        #expect(!t.h.isStored("active"))
    }

    @Test("eviction invalidates the evicted key")
    func eviction() {
        let t = TrackingHarness(shards: 1)
        t.h.run("CLIENT", "TRACKING", "on")
        t.write("SET", "victim", "v")
        t.h.run("GET", "victim")
        let shard = t.h.keyspace.shards[0]
        var candidates: [EvictionCandidate] = []
        shard.lock.withLock {
            shard.sampleForEviction(db: 0, count: 1, volatileOnly: false, maxScan: 10, into: &candidates)
            #expect(candidates.count == 1)
            #expect(shard.evict(candidates[0], volatileOnly: false) != nil)
        }
        #expect(t.pushes() == [TrackingHarness.push("victim")])
    }

    @Test("FLUSHALL and FLUSHDB send a null invalidation and empty the table; SWAPDB invalidates moved keys")
    func flushAndSwap() {
        let t = TrackingHarness()
        t.h.run("CLIENT", "TRACKING", "on")
        t.h.run("GET", "k")
        t.write("FLUSHDB")
        #expect(t.pushes() == [TrackingHarness.nullPush])
        #expect(t.h.keyspace.shards.allSatisfy { $0.tracked.isEmpty })
        t.write("FLUSHALL")
        #expect(t.pushes() == [TrackingHarness.nullPush])
        t.write("SET", "k", "v")
        t.h.run("GET", "k")
        t.write("SWAPDB", "0", "1")
        #expect(t.pushes() == [TrackingHarness.push("k")])
    }

    @Test("NOLOOP skips the client's own writes; without it the client hears its own writes")
    func noLoop() {
        let t = TrackingHarness()
        t.h.run("CLIENT", "TRACKING", "on", "NOLOOP")
        t.h.run("GET", "k")
        t.h.run("SET", "k", "1")
        #expect(t.pushes().isEmpty)
        t.h.run("GET", "k")
        t.write("SET", "k", "2")
        #expect(t.pushes() == [TrackingHarness.push("k")])
        t.h.run("CLIENT", "TRACKING", "on")
        t.h.run("GET", "k")
        // The client's own write: the push follows the reply in the same output (below).
        #expect(t.h.run("SET", "k", "3") == "+OK\r\n" + TrackingHarness.push("k"))
        #expect(t.pushes().isEmpty)
    }

    @Test("own writes: the invalidation follows the reply in the same write (after EXEC's whole reply); with CLIENT REPLY OFF it still arrives")
    func ownWriteAfterReply() {
        // Through the mailbox it went out in a later write than the reply, and redis-py's
        // cache, reading the reply and then serving the next GET from cache, missed it under
        // load. redis-server 7.0.15 sends "+OK\r\n>2\r\n$10\r\ninvalidate..." in one write.
        let t = TrackingHarness()
        t.h.run("CLIENT", "TRACKING", "on")
        t.h.run("GET", "a")
        t.h.run("GET", "b")
        #expect(t.h.run("MSET", "a", "1", "b", "2") == "+OK\r\n" + TrackingHarness.push("a") + TrackingHarness.push("b"))
        t.h.run("GET", "a")
        #expect(t.h.run("MULTI") == "+OK\r\n")
        #expect(t.h.run("SET", "a", "3") == "+QUEUED\r\n")
        #expect(t.h.run("GET", "a") == "+QUEUED\r\n")
        #expect(t.h.run("EXEC") == "*2\r\n+OK\r\n$1\r\n3\r\n" + TrackingHarness.push("a"))
        #expect(t.pushes().isEmpty)
        // A reply that is not sent must not take the push with it: under CLIENT REPLY OFF the
        // event loop drops what the command wrote (this harness does not, so "+OK" stays), and
        // the push goes through the mailbox instead.
        t.h.run("GET", "a")
        t.h.run("CLIENT", "REPLY", "OFF")
        #expect(t.h.run("SET", "a", "4") == "+OK\r\n")
        #expect(t.pushes() == [TrackingHarness.push("a")])
    }

    @Test("OPTIN remembers only after CACHING yes, for one command or one transaction")
    func optIn() {
        let t = TrackingHarness()
        t.h.run("CLIENT", "TRACKING", "on", "OPTIN")
        t.h.run("GET", "a")
        t.write("SET", "a", "1")
        #expect(t.pushes().isEmpty)
        t.h.run("CLIENT", "CACHING", "yes")
        t.h.run("GET", "a")
        t.h.run("GET", "b")
        t.write("MSET", "a", "2", "b", "2")
        #expect(t.pushes() == [TrackingHarness.push("a")])
        t.h.run("CLIENT", "CACHING", "yes")
        t.h.run("MULTI")
        t.h.run("GET", "a")
        t.h.run("GET", "b")
        t.h.run("EXEC")
        t.h.run("GET", "c")
        t.write("MSET", "a", "3", "b", "3", "c", "3")
        #expect(Set(t.pushes()) == [TrackingHarness.push("a"), TrackingHarness.push("b")])
    }

    @Test("BCAST: every change under a prefix, nothing else; OFF unsubscribes")
    func bcast() {
        let t = TrackingHarness()
        t.h.run("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "sess:", "PREFIX", "user:")
        t.write("SET", "sess:1", "v")
        t.write("SET", "other", "v")
        t.write("SADD", "user:9", "x")
        #expect(t.pushes() == [TrackingHarness.push("sess:1"), TrackingHarness.push("user:9")])
        #expect(t.h.state.tracking.prefixTotal == 2)
        t.h.run("CLIENT", "TRACKING", "off")
        #expect(t.h.state.tracking.prefixTotal == 0)
        t.write("SET", "sess:1", "w")
        #expect(t.pushes().isEmpty)
    }

    @Test("tracking-table-max-keys: remembering past the limit invalidates other keys")
    func maxKeys() {
        let t = TrackingHarness()
        #expect(t.h.run("CONFIG", "SET", "tracking-table-max-keys", "3") == "+OK\r\n")
        #expect(t.h.run("CONFIG", "GET", "tracking-table-max-keys") == "%1\r\n$23\r\ntracking-table-max-keys\r\n$1\r\n3\r\n")
        t.h.run("CLIENT", "TRACKING", "on")
        for i in 0..<10 { t.h.run("GET", "k\(i)") }
        #expect(t.h.state.tracking.totalKeys.load(ordering: .relaxed) <= 3)
        #expect(t.pushes().count == 7)
        let info = t.h.run("INFO", "stats")
        #expect(info.contains("tracking_total_keys:3"))
    }

    @Test("closing the connection turns tracking off (INFO tracking_clients)")
    func close() {
        let t = TrackingHarness()
        t.h.run("CLIENT", "TRACKING", "on")
        #expect(t.h.run("INFO", "clients").contains("tracking_clients:1"))
        t.h.run("GET", "k")
        t.h.client.connectionClosed()
        #expect(t.h.state.tracking.active.load(ordering: .relaxed) == 0)
        t.write("SET", "k", "v")
        #expect(t.pushes().isEmpty)
    }

    @Test("concurrent readers and writers on many threads: every remembered key is invalidated once")
    func concurrent() {
        let h = CommandHarness(shards: 16)
        let state = h.state
        let ok = runThreads(8) { i in
            if i < 4 {
                // Each reader is created and used on its own thread, as a loop owns its clients.
                let c = Client(id: 100 + i, server: state, output: ByteBuffer(), loopIndex: 0)
                c.fd = Int32(100 + i)
                c.connectionTag = 1
                OwnedArguments(["HELLO", "3"]).withArguments { Dispatcher.execute(c, $0) }
                OwnedArguments(["CLIENT", "TRACKING", "on"]).withArguments { Dispatcher.execute(c, $0) }
                for n in 0..<500 {
                    c.output.clear()
                    OwnedArguments(["GET", "key\(n % 50)"]).withArguments { Dispatcher.execute(c, $0) }
                }
            } else {
                let w = Client(id: 200 + i, server: state, output: ByteBuffer())
                for n in 0..<500 {
                    w.output.clear()
                    OwnedArguments(["SET", "key\(n % 50)", "\(n)"]).withArguments { Dispatcher.execute(w, $0) }
                }
            }
        }
        #expect(ok)
        // Whatever interleaving happened, the counters agree with the tables.
        var items = 0, keys = 0
        for s in state.keyspace.shards { s.lock.withLock { keys += s.tracked.count; items += s.tracked.values.reduce(0) { $0 + $1.count } } }
        #expect(state.tracking.totalKeys.load(ordering: .relaxed) == keys)
        #expect(state.tracking.totalItems.load(ordering: .relaxed) == items)
        // A final write to every key invalidates exactly the remembered pairs.
        _ = state.pubsub.mailboxes[0].take()
        let w = Client(id: 300, server: state, output: ByteBuffer())
        for n in 0..<50 { OwnedArguments(["DEL", "key\(n)"]).withArguments { Dispatcher.execute(w, $0) } }
        #expect(state.pubsub.mailboxes[0].take().count == items)
    }
}
