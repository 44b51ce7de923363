// Sesame over real TCP, no reference server needed: pipelining, clients that vanish mid
// command, many concurrent clients, TTLs under a manual clock, INFO and the handshake commands
// clients depend on.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Sesame
import Synchronization
import Testing

// Serialized: the timing bounds of the expiry tests should not compete with the 50 client threads.
@Suite("Sesame over TCP", .serialized)
struct SesameTCPTests {

    /// Hits and misses are added to the loop's counters once per batch of commands, not per
    /// command: INFO in the same pipeline still sees the GETs before it, and so does another
    /// connection afterwards.
    @Test("keyspace_hits / keyspace_misses: counted within a pipeline, seen by other clients, reset by CONFIG RESETSTAT")
    func keyspaceHitsAndMisses() throws {
        let sesame = try SesameInstance()
        let c = try sesame.client()
        func stat(_ info: [UInt8], _ name: String) -> String? {
            let text = String(decoding: info, as: UTF8.self)
            return text.split(separator: "\r\n").first { $0.hasPrefix(name + ":") }.map { String($0.dropFirst(name.count + 1)) }
        }
        var request: [UInt8] = []
        for args in [["SET", "k", "v"], ["GET", "k"], ["GET", "k"], ["GET", "missing"], ["HGETALL", "nohash"], ["INFO", "stats"]] {
            request += RESPClient.encode(args)
        }
        try c.send(request)
        let replies = try c.readReplies(6)
        #expect(replies[1] == bytes("$1\r\nv\r\n"))
        #expect(stat(replies[5], "keyspace_hits") == "2")
        #expect(stat(replies[5], "keyspace_misses") == "2")
        let other = try sesame.client()
        let seen = try other.call("INFO", "stats")
        #expect(stat(seen, "keyspace_hits") == "2")
        #expect(stat(seen, "keyspace_misses") == "2")
        #expect(try c.call("CONFIG", "RESETSTAT") == bytes("+OK\r\n"))
        _ = try c.call("GET", "k")
        let after = try other.call("INFO", "stats")
        #expect(stat(after, "keyspace_hits") == "1")
        #expect(stat(after, "keyspace_misses") == "0")
    }

    @Test("10,000 pipelined commands in one write: every reply right, in order")
    func pipelining() throws {
        let sesame = try SesameInstance()
        let c = try sesame.client()
        var request: [UInt8] = []
        var expected: [[UInt8]] = []
        for i in 0..<10_000 {
            switch i % 5 {
            case 0:
                request += RESPClient.encode(["SET", "key:\(i)", "value:\(i)"])
                expected.append(bytes("+OK\r\n"))
            case 1:
                request += RESPClient.encode(["GET", "key:\(i - 1)"])
                let v = "value:\(i - 1)"
                expected.append(bytes("$\(v.utf8.count)\r\n\(v)\r\n"))
            case 2:
                request += RESPClient.encode(["HSET", "hash:\(i % 7)", "f\(i)", "v\(i)"])
                expected.append(bytes(":1\r\n"))
            case 3:
                request += RESPClient.encode(["SADD", "set", "m\(i)"])
                expected.append(bytes(":1\r\n"))
            default:
                request += RESPClient.encode(["ECHO", "\(i)"])
                expected.append(bytes("$\("\(i)".utf8.count)\r\n\(i)\r\n"))
            }
        }
        try c.send(request)
        for (i, e) in expected.enumerated() {
            let r = try c.readReply()
            if r != e {
                Issue.record("reply \(i): expected \(printable(e)), got \(printable(r))")
                return
            }
        }
        #expect(try c.call("SCARD", "set") == bytes(":2000\r\n"))
        #expect(try c.call("DBSIZE") == bytes(":2008\r\n"))

        // The same through inline commands, and a pipeline split at every possible boundary
        // (bytes trickling in one at a time) still yields the same replies.
        var inline: [UInt8] = []
        for i in 0..<10_000 { inline += bytes("ECHO \(i)\r\n") }
        try c.send(inline)
        for i in 0..<10_000 {
            let r = try c.readReply()
            if r != bytes("$\("\(i)".utf8.count)\r\n\(i)\r\n") {
                Issue.record("inline reply \(i): \(printable(r))")
                return
            }
        }
        let trickle = RESPClient.encode(["HSET", "t", "field", "value"]) + bytes("PING\r\n")
            + RESPClient.encode(["HGETALL", "t"])
        for b in trickle { try c.send([b]) }
        #expect(try c.readReply() == bytes(":1\r\n"))
        #expect(try c.readReply() == bytes("+PONG\r\n"))
        #expect(try c.readReply() == bytes("*2\r\n$5\r\nfield\r\n$5\r\nvalue\r\n"))
    }

    @Test("Large replies to a client that reads late (output back-pressure)")
    func largeRepliesReadLate() throws {
        let sesame = try SesameInstance()
        let c = try sesame.client(timeoutSeconds: 20)
        let value = String(repeating: "v", count: 1 << 20)
        #expect(try c.call("SET", "big", value) == bytes("+OK\r\n"))
        var request: [UInt8] = []
        for _ in 0..<100 { request += RESPClient.encode(["GET", "big"]) }
        request += RESPClient.encode(["PING"])
        try c.send(request)
        usleep(200_000)
        let expected = bytes("$\(1 << 20)\r\n") + bytes(value) + bytes("\r\n")
        for i in 0..<100 {
            let r = try c.readReply()
            if r != expected { Issue.record("GET \(i): \(r.count) bytes"); return }
        }
        #expect(try c.readReply() == bytes("+PONG\r\n"))
    }

    @Test("A client that disconnects mid-command does not disturb others")
    func disconnectMidCommand() throws {
        let sesame = try SesameInstance()
        let other = try sesame.client()
        #expect(try other.call("SET", "k", "before") == bytes("+OK\r\n"))
        // Half a bulk string, then gone.
        for partial in ["*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nhal", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000000\r\nabc",
                        "*3\r\n$3\r\nSET\r\n$1", "*300\r\n", "SET k inline-without-newline", "*1\r\n$4\r\nPI"] {
            let quitter = try sesame.client()
            try quitter.send(partial)
            #expect(try other.call("PING") == bytes("+PONG\r\n"))
            quitter.close()
            #expect(try other.call("GET", "k") == bytes("$6\r\nbefore\r\n"))
        }
        // One that stays open with a half command does not block anyone either.
        let stuck = try sesame.client()
        try stuck.send("*2\r\n$4\r\nECHO\r\n$5\r\nab")
        for i in 0..<100 {
            #expect(try other.call("SET", "x\(i)", "\(i)") == bytes("+OK\r\n"))
        }
        try stuck.send("cde\r\n")
        #expect(try stuck.readReply() == bytes("$5\r\nabcde\r\n"))
        // Reset connections mid-reply (SO_LINGER 0) while a big reply is being written.
        #expect(try other.call("SET", "big", String(repeating: "x", count: 4 << 20)) == bytes("+OK\r\n"))
        for _ in 0..<5 {
            let rude = try sesame.client()
            var req: [UInt8] = []
            for _ in 0..<20 { req += RESPClient.encode(["GET", "big"]) }
            try rude.send(req)
            var lin = linger(l_onoff: 1, l_linger: 0)
            setsockopt(rude.fd, SOL_SOCKET, SO_LINGER, &lin, socklen_t(MemoryLayout<linger>.size))
            rude.close()
        }
        #expect(try other.call("GET", "k") == bytes("$6\r\nbefore\r\n"))
        #expect(try other.call("DBSIZE") == bytes(":102\r\n"))
        let fresh = try sesame.client()
        #expect(try fresh.call("PING") == bytes("+PONG\r\n"))
    }

    @Test("50 concurrent clients: every reply right, no lost writes")
    func concurrentClients() throws {
        let sesame = try SesameInstance()
        let clients = 50, rounds = 150
        let failures = Locked<[String]>([])
        let port = sesame.port
        let group = DispatchGroup()
        for t in 0..<clients {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                do {
                    let c = try RESPClient(port: port, timeoutSeconds: 30)
                    for i in 0..<rounds {
                        let member = "c\(t)-m\(i)"
                        let value = "value-\(t)-\(i)"
                        // Pipelined in twos and threes, across shards and a shared hot key.
                        try c.send(RESPClient.encode(["SADD", "shared", member])
                                   + RESPClient.encode(["SET", "own:\(t):\(i % 10)", value])
                                   + RESPClient.encode(["HSET", "sess:{\(t)}", "f\(i)", value]))
                        let r = try c.readReplies(3)
                        let g = try c.call("GET", "own:\(t):\(i % 10)")
                        let h = try c.call("HGET", "sess:{\(t)}", "f\(i)")
                        let expectedBulk = bytes("$\(value.utf8.count)\r\n\(value)\r\n")
                        if r != [bytes(":1\r\n"), bytes("+OK\r\n"), bytes(":1\r\n")] || g != expectedBulk || h != expectedBulk {
                            failures.withLock { $0.append("client \(t) round \(i): \(r.map { printable($0) }) \(printable(g)) \(printable(h))") }
                            return
                        }
                    }
                    let len = try c.call("HLEN", "sess:{\(t)}")
                    if len != bytes(":\(rounds)\r\n") {
                        failures.withLock { $0.append("client \(t): HLEN \(printable(len))") }
                    }
                } catch {
                    failures.withLock { $0.append("client \(t): \(error)") }
                }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        let finished = group.wait(timeout: .now() + 60)
        #expect(finished == .success, "clients did not finish within 60 s")
        let f = failures.withLock { $0 }
        #expect(f.isEmpty, "\(f.count) failures, first: \(f.prefix(3))")
        let c = try sesame.client()
        #expect(try c.call("SCARD", "shared") == bytes(":\(clients * rounds)\r\n"))
        #expect(try c.call("DBSIZE") == bytes(":\(1 + clients * 10 + clients)\r\n"))
    }

    @Test("TTLs under a manual clock: exact TTL/PTTL, lazy and active expiry within a tick")
    func manualClockExpiry() throws {
        let clock = ManualClock()
        let sesame = try SesameInstance(clock: clock)
        let c = try sesame.client()
        #expect(try c.call("SET", "k", "v", "PX", "5000") == bytes("+OK\r\n"))
        #expect(try c.call("PTTL", "k") == bytes(":5000\r\n"))
        #expect(try c.call("TTL", "k") == bytes(":5\r\n"))
        clock.advance(milliseconds: 1234)
        #expect(try c.call("PTTL", "k") == bytes(":3766\r\n"))
        #expect(try c.call("TTL", "k") == bytes(":4\r\n"))  // rounded: (3766 + 500) / 1000
        clock.advance(milliseconds: 3765)
        #expect(try c.call("PTTL", "k") == bytes(":1\r\n"))
        clock.advance(milliseconds: 2)  // one past the deadline (at it exactly, see deadlineIsInclusive)
        #expect(try c.call("GET", "k") == bytes("$-1\r\n"))
        #expect(try c.call("TTL", "k") == bytes(":-2\r\n"))
        #expect(try c.call("EXISTS", "k") == bytes(":0\r\n"))

        // Active expiry: keys nobody touches leave DBSIZE within about one wheel tick.
        let n = 500
        for i in 0..<n {
            let kind = i % 3
            if kind == 0 { try c.call("SET", "s\(i)", "v", "EX", "60") }
            else if kind == 1 { try c.call("HSET", "h\(i)", "f", "v"); try c.call("EXPIRE", "h\(i)", "60") }
            else { try c.call("SADD", "m\(i)", "x"); try c.call("PEXPIREAT", "m\(i)", "\(clock.nowMilliseconds() + 60_000)") }
        }
        try c.call("SET", "forever", "v")
        try c.call("SET", "later", "v", "EX", "120")
        #expect(try c.call("DBSIZE") == bytes(":\(n + 2)\r\n"))
        clock.advance(milliseconds: 59_999)
        usleep(50_000)
        #expect(try c.call("DBSIZE") == bytes(":\(n + 2)\r\n"), "nothing may expire early")
        // 10 ms past the deadline: past it by Redis's rule (now > deadline) and at the end of
        // its wheel tick whatever the alignment (see unalignedDeadlines for 1 ms past).
        clock.advance(milliseconds: 11)
        let gone = try pollDBSize(c, equals: 2, withinMilliseconds: 1000)
        #expect(gone.ok, "DBSIZE still \(gone.last) after 1 s")
        #expect(gone.elapsedMs < 500, "active expiry took \(gone.elapsedMs) ms (tick is 10 ms)")
        #expect(try c.call("GET", "forever") == bytes("$1\r\nv\r\n"))
        #expect(try c.call("TTL", "later") == bytes(":60\r\n"))
        #expect(try c.call("DEL", "later") == bytes(":1\r\n"))

        // Sliding expiry: re-arming before the deadline keeps the key past its first deadline.
        try c.call("SET", "sess", "v", "EX", "10")
        for _ in 0..<5 {
            clock.advance(seconds: 8)
            #expect(try c.call("EXPIRE", "sess", "10") == bytes(":1\r\n"))
        }
        usleep(50_000)
        #expect(try c.call("EXISTS", "sess") == bytes(":1\r\n"))
        clock.advance(milliseconds: 10_010)
        let slid = try pollDBSize(c, equals: 1, withinMilliseconds: 1000)  // "forever" only
        #expect(slid.ok, "DBSIZE still \(slid.last)")
        // PERSIST cancels: the wheel must not delete a key whose TTL was removed.
        try c.call("SET", "p", "v", "PX", "100")
        #expect(try c.call("PERSIST", "p") == bytes(":1\r\n"))
        clock.advance(seconds: 1)
        usleep(50_000)
        #expect(try c.call("GET", "p") == bytes("$1\r\nv\r\n"))
        // Overwriting with plain SET drops the TTL too.
        try c.call("SET", "q", "v", "PX", "100")
        try c.call("SET", "q", "w")
        clock.advance(seconds: 1)
        usleep(50_000)
        #expect(try c.call("GET", "q") == bytes("$1\r\nw\r\n"))
    }

    /// Redis expires a key when now > deadline (keyIsExpired, activeExpireCycleTryExpire): at
    /// the deadline millisecond itself the key is still there with PTTL 0.
    @Test("A key lives through its deadline millisecond (Redis: expired only when now > deadline)")
    func deadlineIsInclusive() throws {
        let clock = ManualClock()
        let sesame = try SesameInstance(clock: clock)
        let c = try sesame.client()
        try c.call("SET", "k", "v", "PX", "1000")
        try c.call("SET", "quiet", "v", "PX", "1000")
        clock.advance(milliseconds: 1000)
        usleep(50_000)
        #expect(try c.call("DBSIZE") == bytes(":2\r\n"), "active expiry took the key at its deadline")
        #expect(try c.call("PTTL", "k") == bytes(":0\r\n"))
        #expect(try c.call("GET", "k") == bytes("$1\r\nv\r\n"))
        clock.advance(milliseconds: 1)
        #expect(try c.call("GET", "k") == bytes("$-1\r\n"))
        #expect(try pollDBSize(c, equals: 0, withinMilliseconds: 1000).ok)
    }

    /// With a manual clock, time stands still between advances: a key 1 ms past its deadline
    /// must leave DBSIZE within a wheel tick of real time, whether or not its deadline falls on
    /// a 10 ms boundary.
    @Test("Active expiry 1 ms past deadlines that are not on a tick boundary (manual clock)")
    func unalignedDeadlines() throws {
        let clock = ManualClock(startingAt: 1_700_000_000_000)
        let sesame = try SesameInstance(clock: clock)
        let c = try sesame.client()
        clock.advance(milliseconds: 5001)
        try c.call("SET", "a", "v", "PX", "60000")    // deadline ...065001
        try c.call("SET", "b", "v", "PX", "1234")     // deadline ...006235
        try c.call("SET", "c", "v", "PX", "300007")   // deadline ...305008
        clock.advance(milliseconds: 1235)
        #expect(try pollDBSize(c, equals: 2, withinMilliseconds: 500).ok, "b (deadline +1 ms) still counted")
        clock.advance(milliseconds: 60001 - 1235)
        #expect(try pollDBSize(c, equals: 1, withinMilliseconds: 500).ok, "a (deadline +1 ms) still counted")
        clock.advance(milliseconds: 300008 - 60001)
        #expect(try pollDBSize(c, equals: 0, withinMilliseconds: 500).ok, "c (deadline +1 ms) still counted")
    }

    @Test("Mass expiry under a manual clock drains completely and keeps serving")
    func massExpiry() throws {
        let clock = ManualClock()
        let sesame = try SesameInstance(clock: clock)
        let c = try sesame.client()
        let n = 30_000
        var req: [UInt8] = []
        for i in 0..<n { req += RESPClient.encode(["SET", "k\(i)", "v", "PX", "\(1000 + i % 50)"]) }
        try c.send(req)
        _ = try c.readReplies(n)
        #expect(try c.call("DBSIZE") == bytes(":\(n)\r\n"))
        clock.advance(seconds: 2)
        let other = try sesame.client()
        let start = Date()
        #expect(try other.call("PING") == bytes("+PONG\r\n"))
        #expect(Date().timeIntervalSince(start) < 1.0, "a loop stalled on mass expiry")
        let gone = try pollDBSize(c, equals: 0, withinMilliseconds: 3000)
        #expect(gone.ok, "DBSIZE still \(gone.last)")
        #expect(try c.call("INFO", "stats").contains(subsequence: bytes("expired_keys:\(n)\r\n")))
    }

    @Test("INFO: bulk text starting with # Server, redis_version, loading:0, keyspace")
    func info() throws {
        let sesame = try SesameInstance()
        let c = try sesame.client()
        try c.call("SET", "a", "1")
        try c.call("SET", "b", "1", "EX", "100")
        for args in [["INFO"], ["INFO", "SERVER"], ["INFO", "server", "clients"], ["INFO", "all"], ["INFO", "default"]] {
            let raw = try c.call(args: args)
            guard case .bulk(let body) = try RESPValue.parse(raw) else {
                Issue.record("\(args): not a bulk string: \(printable(raw))"); continue
            }
            #expect(body.starts(with: bytes("# Server\r\n")), "\(args): \(printable(body))")
            #expect(body.contains(subsequence: bytes("\r\nredis_version:7.2.4\r\n")))
            #expect(!body.contains(subsequence: bytes("\n\n")))
            // Every line ends in CRLF.
            for (i, b) in body.enumerated() where b == 10 { #expect(i > 0 && body[i - 1] == 13) }
        }
        let all = try c.call("INFO")
        for field in ["loading:0\r\n", "connected_clients:1\r\n", "db0:keys=2,expires=1", "redis_mode:standalone\r\n",
                      "used_memory:", "total_commands_processed:", "total_connections_received:", "blocked_clients:0\r\n",
                      "role:master\r\n", "# Keyspace\r\n", "# Persistence\r\n"] {
            #expect(all.contains(subsequence: bytes(field)), "INFO lacks \(field)")
        }
        let ks = try c.call("INFO", "keyspace")
        #expect(!ks.contains(subsequence: bytes("# Server")))
        #expect(ks.contains(subsequence: bytes("db0:keys=2,expires=1")))
        // RESP3: a verbatim string `=N\r\ntxt:...`.
        _ = try c.call("HELLO", "3")
        let v3 = try c.call("INFO", "server")
        #expect(v3.starts(with: bytes("=")) && v3.contains(subsequence: bytes("\r\ntxt:# Server\r\n")), "\(printable(v3))")
    }

    @Test("Handshakes: HELLO shape, CLIENT SETINFO, COMMAND DOCS, unknown commands")
    func handshakes() throws {
        let sesame = try SesameInstance()
        let c = try sesame.client()
        let h3 = try RESPValue.parse(try c.call("HELLO", "3"))
        guard case .map(let m) = h3 else { Issue.record("HELLO 3: \(h3)"); return }
        #expect(m.map { $0.0.string ?? "?" } == ["server", "version", "proto", "id", "mode", "role", "modules"])
        #expect(m[1].1 == .bulk(bytes("7.2.4")))
        #expect(m[2].1 == .integer(3))
        #expect(m[4].1 == .bulk(bytes("standalone")))
        #expect(m[5].1 == .bulk(bytes("master")))
        let h2 = try c.call("HELLO", "2")
        #expect(h2.starts(with: bytes("*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:")))
        #expect(try c.call("HELLO", "4") == bytes("-NOPROTO unsupported protocol version\r\n"))
        #expect(try c.call("CLIENT", "SETINFO", "LIB-NAME", "go-redis(,go1.22)") == bytes("+OK\r\n"))
        #expect(try c.call("CLIENT", "SETINFO", "lib-ver", "9.5.1") == bytes("+OK\r\n"))
        #expect(try c.call("CLIENT", "SETINFO", "x", "y") == bytes("-ERR Unrecognized option 'x'\r\n"))
        #expect(try c.call("CLIENT", "SETINFO", "lib-name", "has space") ==
                bytes("-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"))
        #expect(try c.call("CLIENT", "SETINFO", "lib-name") == bytes("-ERR wrong number of arguments for 'client|setinfo' command\r\n"))
        #expect(try c.call("COMMAND", "DOCS") == bytes("-ERR unknown subcommand 'DOCS'. Try COMMAND HELP.\r\n"))
        #expect(try c.call("COMMAND", "DOCS", "GET") == bytes("-ERR unknown subcommand 'DOCS'. Try COMMAND HELP.\r\n"))
        #expect(try c.call("FOO", "a", "b") == bytes("-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"))
        #expect(try c.call("foo") == bytes("-ERR unknown command 'foo', with args beginning with: \r\n"))
        #expect(try c.call("CLIENT", "NOPE") == bytes("-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n"))
        // The connection is still fine after all of that.
        #expect(try c.call("PING") == bytes("+PONG\r\n"))
    }

    /// Polls DBSIZE every 5 ms until it equals `n` or time runs out.
    private func pollDBSize(_ c: RESPClient, equals n: Int, withinMilliseconds limit: Int) throws
        -> (ok: Bool, elapsedMs: Int, last: String) {
        let start = Date()
        var last = ""
        while true {
            let r = try c.call("DBSIZE")
            last = printable(r)
            let elapsed = Int(Date().timeIntervalSince(start) * 1000)
            if r == bytes(":\(n)\r\n") { return (true, elapsed, last) }
            if elapsed > limit { return (false, elapsed, last) }
            usleep(5_000)
        }
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return needle.isEmpty }
        for i in 0...(count - needle.count) where self[i] == needle[0] {
            if Array(self[i..<(i + needle.count)]) == needle { return true }
        }
        return false
    }
}

/// A value shared between threads.
final class Locked<Value>: @unchecked Sendable {
    private let mutex: Mutex<Value>
    init(_ value: sending Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout sending Value) throws -> sending R) rethrows -> sending R {
        try mutex.withLock(body)
    }
}
