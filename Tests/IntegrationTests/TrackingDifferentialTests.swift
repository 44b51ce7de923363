// CLIENT TRACKING against redis-server 7.0.15, byte for byte: every step runs on both servers
// over the same set of connections (A: the caching client, B: another client that writes,
// C: a redirect target), and after each step the pushes that reached A and C are collected
// and compared too. Pushes are collected deterministically: PING is sent and everything
// before its reply is a push (an invalidation posted before the PING arrived precedes its
// reply on both servers).

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Sesame
import Synchronization
import Testing

final class TrackingDifferential {
    enum Role: Int, CaseIterable { case a, b, c }
    let redis: RedisServerProcess
    let sesame: SesameInstance
    private var conns: [[RESPClient]] = []  // [server][role]
    private var ids: [[Int]] = []           // [server][role]
    /// Connections whose pushes are collected after each step.
    var listeners: [Role] = [.a]
    /// Connections in RESP2 subscribed mode, whose PING reply is an array.
    var subscribed: Set<Role> = []
    private var inMulti: Set<Role> = []

    init() throws {
        redis = try RedisServerProcess.start()
        sesame = try SesameInstance()
        for port in [redis.port, sesame.port] {
            let cs = try Role.allCases.map { _ in try RESPClient(port: port) }
            conns.append(cs)
            ids.append(try cs.map { c in
                let digits = try c.call("CLIENT", "ID").filter { $0 >= 48 && $0 <= 57 }
                guard let id = Int(String(decoding: digits, as: UTF8.self)) else { throw TestFailure("CLIENT ID") }
                return id
            })
        }
    }

    deinit {
        for cs in conns { for c in cs { c.close() } }
        redis.stop()
        sesame.stop()
    }

    /// Runs a command on `role` on both servers, compares the replies (with each server's client
    /// IDs written as `<id:role>`), then the pushes the listeners received.
    @discardableResult
    func run(_ role: Role, _ args: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        var replies: [String] = []
        for s in 0..<2 {
            let concrete = args.map { arg in
                Role.allCases.reduce(arg) { $0.replacingOccurrences(of: "<id:\($1)>", with: "\(ids[s][$1.rawValue])") }
            }
            let reply = try conns[s][role.rawValue].call(args: concrete)
            replies.append(args.contains { ["GETREDIR", "TRACKINGINFO"].contains($0.uppercased()) } ? normalize(reply, server: s) : printable(reply, limit: 4000))
        }
        #expect(replies[0] == replies[1], "\(role) \(args.joined(separator: " "))", sourceLocation: sourceLocation)
        // Inside MULTI a PING would only be queued: collect after EXEC.
        let name = args[0].uppercased()
        if name == "MULTI" { inMulti.insert(role) }
        if name == "EXEC" || name == "DISCARD" { inMulti.remove(role) }
        if !inMulti.isDisjoint(with: listeners) { return replies[1] }
        try comparePushes(after: "\(role) \(args.joined(separator: " "))", sourceLocation: sourceLocation)
        return replies[1]
    }

    /// Collects what each listener received (see the file comment) and compares.
    func comparePushes(after label: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for role in listeners {
            var got: [String] = []
            for s in 0..<2 {
                let c = conns[s][role.rawValue]
                try c.send(command: ["PING"])
                var pushes = ""
                while true {
                    let r = try c.readReply()
                    if r == bytes("+PONG\r\n") || r == bytes("*2\r\n$4\r\npong\r\n$0\r\n\r\n") { break }
                    pushes += normalize(r, server: s)
                }
                got.append(pushes)
            }
            #expect(got[0] == got[1], "pushes to \(role) after \(label)", sourceLocation: sourceLocation)
        }
    }

    /// Client IDs differ between the servers: where a reply names one (GETREDIR, TRACKINGINFO's
    /// redirect, tracking-redir-broken), it is written as `<id:role>`.
    private func normalize(_ raw: [UInt8], server s: Int) -> String {
        var text = printable(raw, limit: 4000)
        guard text.contains("redir") || text.hasPrefix(":") else { return text }
        for role in Role.allCases {
            text = text.replacingOccurrences(of: ":\(ids[s][role.rawValue])\\r\\n", with: ":<id:\(role)>\\r\\n")
        }
        return text
    }

    /// HELLO 3 on both (the replies name different versions and IDs, so they are not compared).
    func hello3(_ role: Role) throws {
        for s in 0..<2 {
            let r = try conns[s][role.rawValue].call("HELLO", "3")
            #expect(r.first == UInt8(ascii: "%"))
        }
    }

    /// Closes `role` on both servers (for broken redirects).
    func close(_ role: Role) {
        for s in 0..<2 { conns[s][role.rawValue].close() }
        listeners.removeAll { $0 == role }
        usleep(100_000)
    }
}

@Suite("CLIENT TRACKING against redis-server", .serialized,
       .enabled(if: ExternalTools.redisServerEnabled, "redis-server is not on PATH (set CI=true to make this a failure)"))
struct TrackingDifferentialTests {
    @Test("default mode, RESP3: reads remembered, one invalidate per change, own writes, every write kind")
    func defaultMode() throws {
        let d = try TrackingDifferential()
        try d.hello3(.a)
        try d.run(.a, "CLIENT", "TRACKING", "on")
        try d.run(.a, "CLIENT", "TRACKINGINFO")
        try d.run(.a, "CLIENT", "GETREDIR")
        try d.run(.b, "SET", "k", "v")
        try d.run(.a, "GET", "k")
        try d.run(.b, "SET", "k", "w")
        try d.run(.b, "SET", "k", "x")        // no longer remembered: no second push
        try d.run(.a, "GET", "k")
        try d.run(.a, "SET", "k", "y")        // its own write: the push follows the reply
        try d.run(.a, "GET", "missing")       // misses are remembered too
        try d.run(.b, "SET", "missing", "1")
        try d.run(.a, "MGET", "m1", "m2", "m3")
        try d.run(.b, "MSET", "m1", "1", "m3", "3")
        try d.run(.a, "HGETALL", "sess:{u1}:abc")
        try d.run(.b, "HSET", "sess:{u1}:abc", "userId", "u1")
        try d.run(.a, "HGET", "sess:{u1}:abc", "userId")
        try d.run(.b, "EXPIRE", "sess:{u1}:abc", "100")
        try d.run(.a, "TTL", "sess:{u1}:abc")
        try d.run(.b, "DEL", "sess:{u1}:abc")
        try d.run(.a, "SMEMBERS", "user_sessions:{u1}")
        try d.run(.b, "SADD", "user_sessions:{u1}", "abc")
        try d.run(.a, "SISMEMBER", "user_sessions:{u1}", "abc")
        try d.run(.b, "SREM", "user_sessions:{u1}", "abc")
        try d.run(.a, "EXISTS", "r1")
        try d.run(.b, "SET", "r1", "1")
        try d.run(.a, "GET", "r1")
        try d.run(.b, "RENAME", "r1", "r2")
        try d.run(.a, "INCR", "counter")      // a write command: nothing remembered
        try d.run(.b, "INCR", "counter")
        try d.run(.a, "CLIENT", "TRACKING", "off")
        try d.run(.a, "GET", "k")
        try d.run(.b, "SET", "k", "z")
        try d.run(.a, "CLIENT", "TRACKINGINFO")
        try d.run(.a, "CLIENT", "GETREDIR")
    }

    @Test("expiry (lazy or active) invalidates; FLUSHALL and FLUSHDB send a null invalidation")
    func expiryAndFlush() throws {
        let d = try TrackingDifferential()
        try d.hello3(.a)
        try d.run(.a, "CLIENT", "TRACKING", "on")
        try d.run(.b, "SET", "e", "v", "PX", "150")
        try d.run(.a, "GET", "e")
        usleep(400_000)
        try d.run(.b, "EXISTS", "e")          // expired by now on both, actively or here
        try d.run(.a, "GET", "f")
        try d.run(.b, "FLUSHALL")
        try d.run(.a, "FLUSHDB")              // its own flush: null after the reply
        try d.run(.b, "SELECT", "1")
        try d.run(.b, "FLUSHDB")              // another database: still a null, as in Redis
    }

    @Test("BCAST with prefixes, NOLOOP, overlap errors, TRACKINGINFO")
    func bcast() throws {
        let d = try TrackingDifferential()
        try d.hello3(.a)
        try d.run(.a, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "ab")
        try d.run(.a, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a", "PREFIX", "b")
        try d.run(.a, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ac")
        try d.run(.a, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "c")
        try d.run(.a, "CLIENT", "TRACKING", "on")
        try d.run(.a, "CLIENT", "TRACKINGINFO")
        try d.run(.b, "SET", "ax", "1")
        try d.run(.b, "SET", "zz", "1")
        try d.run(.b, "SET", "c1", "1")
        try d.run(.b, "DEL", "ax", "c1")
        try d.run(.a, "SET", "b1", "1")       // no NOLOOP: its own change is broadcast too
        try d.run(.a, "CLIENT", "TRACKING", "off")
        try d.run(.b, "SET", "ax", "2")
        try d.run(.a, "CLIENT", "TRACKING", "on", "BCAST", "NOLOOP", "PREFIX", "n")
        try d.run(.a, "SET", "n1", "1")
        try d.run(.b, "SET", "n2", "2")
        try d.run(.a, "CLIENT", "TRACKINGINFO")
        try d.run(.a, "CLIENT", "TRACKING", "off")
        try d.run(.a, "CLIENT", "TRACKING", "on", "BCAST")
        try d.run(.b, "SET", "anything", "1")
        try d.run(.a, "CLIENT", "TRACKINGINFO")
    }

    @Test("OPTIN / OPTOUT with CLIENT CACHING, inside MULTI too; NOLOOP in default mode")
    func optInOut() throws {
        let d = try TrackingDifferential()
        try d.hello3(.a)
        try d.run(.a, "CLIENT", "CACHING", "yes")
        try d.run(.a, "CLIENT", "TRACKING", "on", "OPTIN")
        try d.run(.a, "GET", "k")
        try d.run(.b, "SET", "k", "1")
        try d.run(.a, "CLIENT", "CACHING", "yes")
        try d.run(.a, "CLIENT", "TRACKINGINFO")
        try d.run(.a, "GET", "k")
        try d.run(.a, "GET", "j")             // CACHING yes covered one command only
        try d.run(.b, "MSET", "k", "2", "j", "2")
        try d.run(.a, "CLIENT", "CACHING", "yes")
        try d.run(.a, "MULTI")
        try d.run(.a, "GET", "x1")
        try d.run(.a, "GET", "x2")
        try d.run(.a, "EXEC")
        try d.run(.b, "MSET", "x1", "1", "x2", "2")
        try d.run(.a, "CLIENT", "CACHING", "no")
        try d.run(.a, "CLIENT", "CACHING", "maybe")
        try d.run(.a, "CLIENT", "TRACKING", "on", "OPTOUT")
        try d.run(.a, "CLIENT", "TRACKING", "off")
        try d.run(.a, "CLIENT", "TRACKING", "on", "OPTOUT")
        try d.run(.a, "GET", "o1")
        try d.run(.a, "CLIENT", "CACHING", "no")
        try d.run(.a, "GET", "o2")
        try d.run(.b, "MSET", "o1", "1", "o2", "2")
        try d.run(.a, "CLIENT", "CACHING", "yes")
        try d.run(.a, "CLIENT", "TRACKING", "off")
        try d.run(.a, "CLIENT", "TRACKING", "on", "NOLOOP")
        try d.run(.a, "GET", "n")
        try d.run(.a, "SET", "n", "1")        // its own write: no push with NOLOOP
        try d.run(.a, "GET", "n")
        try d.run(.b, "SET", "n", "2")
        try d.run(.a, "CLIENT", "TRACKINGINFO")
    }

    @Test("RESP2 REDIRECT to a client subscribed to __redis__:invalidate; FLUSHALL; broken redirect")
    func redirect() throws {
        let d = try TrackingDifferential()
        d.subscribed = [.c]
        try d.run(.c, "SUBSCRIBE", "__redis__:invalidate")
        d.listeners = [.a, .c]
        try d.run(.a, "CLIENT", "TRACKING", "on", "REDIRECT", "<id:c>")
        try d.run(.a, "CLIENT", "GETREDIR")
        try d.run(.a, "CLIENT", "TRACKINGINFO")
        try d.run(.a, "GET", "rk")
        try d.run(.b, "SET", "rk", "1")
        try d.run(.a, "GET", "rk")
        try d.run(.a, "SET", "rk", "2")
        try d.run(.a, "GET", "rk")
        try d.run(.b, "FLUSHALL")
        // The RESP3 form of the same, then the redirect target goes away.
        try d.hello3(.a)
        try d.run(.a, "GET", "q")
        d.close(.c)
        try d.run(.b, "SET", "q", "1")        // A is told the redirect is broken
        try d.run(.a, "CLIENT", "TRACKINGINFO")
        try d.run(.a, "CLIENT", "TRACKING", "off")
    }

    @Test("CLIENT TRACKING / CACHING argument errors, in Redis's order and text")
    func errors() throws {
        let d = try TrackingDifferential()
        try d.run(.a, "CLIENT", "TRACKING")
        try d.run(.a, "CLIENT", "TRACKING", "maybe")
        try d.run(.a, "CLIENT", "TRACKING", "on", "foo")
        try d.run(.a, "CLIENT", "TRACKING", "on", "REDIRECT")
        try d.run(.a, "CLIENT", "TRACKING", "on", "REDIRECT", "x")
        try d.run(.a, "CLIENT", "TRACKING", "on", "REDIRECT", "999999")
        try d.run(.a, "CLIENT", "TRACKING", "on", "REDIRECT", "<id:b>", "REDIRECT", "<id:c>")
        try d.run(.a, "CLIENT", "TRACKING", "on", "PREFIX", "x")
        try d.run(.a, "CLIENT", "TRACKING", "on", "BCAST", "OPTIN")
        try d.run(.a, "CLIENT", "TRACKING", "on", "BCAST", "OPTOUT")
        try d.run(.a, "CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT")
        try d.run(.a, "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "x", "PREFIX", "")
        try d.run(.a, "CLIENT", "TRACKING", "off", "BCAST", "OPTIN", "OPTOUT")
        try d.run(.a, "CLIENT", "TRACKING", "off", "bogus")
        try d.run(.a, "CLIENT", "CACHING", "yes")
        try d.run(.a, "CLIENT", "CACHING")
        try d.run(.a, "CLIENT", "GETREDIR", "x")
        try d.run(.a, "CLIENT", "TRACKINGINFO", "x")
        try d.run(.a, "CLIENT", "TRACKINGINFO")
        try d.run(.a, "CLIENT", "TRACKING", "on", "OPTIN")
        try d.run(.a, "CLIENT", "TRACKING", "on", "OPTOUT")
        try d.run(.a, "CLIENT", "TRACKING", "on", "BCAST")
        try d.run(.a, "CLIENT", "CACHING", "no")
        try d.run(.a, "CONFIG", "GET", "tracking-table-max-keys")
        try d.run(.a, "CONFIG", "SET", "tracking-table-max-keys", "-1")
        try d.run(.a, "CONFIG", "SET", "tracking-table-max-keys", "10")
        try d.run(.a, "CONFIG", "GET", "tracking-table-max-keys")
    }
}

private final class Progress: Sendable {
    let acked = Atomic<Int>(0)
    let done = Atomic<Bool>(false)
    let failures = Mutex<[String]>([])
}

@Suite("CLIENT TRACKING across event loops")
struct TrackingLoopTests {
    /// A client-side cache driven by invalidations must never serve a value older than a write
    /// whose reply was already seen, while reads and writes race on different loops.
    @Test("race: a cached value is never older than an acknowledged write")
    func noStaleCache() throws {
        let sesame = try SesameInstance(threads: 2)
        defer { sesame.stop() }
        let port = sesame.port
        let progress = Progress()
        let writes = 1500
        let writer = Thread {
            do {
                let w = try RESPClient(port: port)
                for i in 1...writes {
                    _ = try w.call("SET", "sess:{u}:1", "\(i)")
                    progress.acked.store(i, ordering: .sequentiallyConsistent)
                }
            } catch { progress.failures.withLock { $0.append("writer: \(error)") } }
            progress.done.store(true, ordering: .sequentiallyConsistent)
        }
        let readerDone = Atomic<Bool>(false)
        let reader = Thread {
            defer { readerDone.store(true, ordering: .sequentiallyConsistent) }
            do {
                let r = try RESPClient(port: port)
                _ = try r.call("HELLO", "3")
                _ = try r.call("CLIENT", "TRACKING", "on")
                var cached: Int? = nil
                var hits = 0
                while !progress.done.load(ordering: .sequentiallyConsistent) {
                    let floor = progress.acked.load(ordering: .sequentiallyConsistent)
                    // Sync: every invalidation posted before this PING arrives precedes PONG.
                    try r.send(command: ["PING"])
                    while true {
                        let m = try r.readReply()
                        if m == bytes("+PONG\r\n") { break }
                        cached = nil
                    }
                    let value: Int
                    if let c = cached {
                        value = c
                        hits += 1
                    } else {
                        try r.send(command: ["GET", "sess:{u}:1"])
                        var reply = try r.readReply()
                        while reply.first == UInt8(ascii: ">") { reply = try r.readReply() }
                        let text = String(decoding: reply, as: UTF8.self)
                        value = text.hasPrefix("$") ? Int(text.split(separator: "\r\n")[1]) ?? 0 : 0
                        cached = value
                    }
                    if value < floor {
                        progress.failures.withLock { $0.append("served \(value) after write \(floor) was acknowledged") }
                        return
                    }
                }
                if hits == 0 { progress.failures.withLock { $0.append("the cache never hit: the test checked nothing") } }
            } catch { progress.failures.withLock { $0.append("reader: \(error)") } }
        }
        reader.start()
        writer.start()
        let deadline = Date().addingTimeInterval(60)
        while !(progress.done.load(ordering: .sequentiallyConsistent) && readerDone.load(ordering: .sequentiallyConsistent)) && Date() < deadline {
            usleep(10_000)
        }
        #expect(progress.done.load(ordering: .sequentiallyConsistent) && readerDone.load(ordering: .sequentiallyConsistent), "timed out")
        #expect(progress.failures.withLock { $0 } == [])
    }

    @Test("a write on one loop invalidates a reader on every other loop, before its next reply")
    func crossLoop() throws {
        let sesame = try SesameInstance(threads: 4)
        defer { sesame.stop() }
        let readers = try (0..<8).map { _ in try sesame.client() }
        for r in readers {
            #expect(try r.call("HELLO", "3").first == UInt8(ascii: "%"))
            #expect(try r.call("CLIENT", "TRACKING", "on") == bytes("+OK\r\n"))
            #expect(try r.call("GET", "sess:{u}:1") == bytes("_\r\n"))
        }
        let writer = try sesame.client()
        #expect(try writer.call("HSET", "sess:{u}:1", "role", "admin") == bytes(":1\r\n"))
        let push = bytes(">2\r\n$10\r\ninvalidate\r\n*1\r\n$10\r\nsess:{u}:1\r\n")
        for r in readers {
            // The invalidation was posted before the writer's reply, so it precedes this reply.
            #expect(try r.call("PING") == push)
            #expect(try r.readReply() == bytes("+PONG\r\n"))
        }
        let info = String(decoding: try writer.call("INFO", "clients"), as: UTF8.self)
        #expect(info.contains("tracking_clients:8"))
        let list = String(decoding: try writer.call("CLIENT", "LIST"), as: UTF8.self)
        #expect(list.components(separatedBy: "flags=t ").count == 9)
    }
}
