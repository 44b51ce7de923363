// An in-process Sesame server on a free port, and the pairing of it with a real redis-server
// for differential tests.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Sesame
import Testing

final class SesameInstance {
    let server: SesameServer
    var port: Int { server.port }

    init(clock: any SesameClock = SystemClock(), threads: Int = 2,
         configure: (inout Configuration) -> Void = { _ in }) throws {
        var cfg = Configuration(port: 0, threads: threads)
        configure(&cfg)
        server = SesameServer(configuration: cfg, clock: clock)
        try server.start()
    }

    func client(timeoutSeconds: Int = 5) throws -> RESPClient {
        try RESPClient(port: port, timeoutSeconds: timeoutSeconds)
    }

    func stop() { server.stop() }
    deinit { server.stop() }
}

/// Runs the same bytes against redis-server and Sesame and compares the replies.
/// Both servers use real time, so absolute deadlines (EXPIREAT) mean the same on both.
final class Differential {
    let redis: RedisServerProcess
    let sesame: SesameInstance
    private(set) var r: RESPClient
    private(set) var s: RESPClient

    convenience init() throws {
        try self.init(redis: RedisServerProcess.start(), sesame: SesameInstance())
    }

    /// A pair configured alike by the caller (cluster nodes, for instance).
    init(redis: RedisServerProcess, sesame: SesameInstance) throws {
        self.redis = redis
        self.sesame = sesame
        r = try RESPClient(port: redis.port)
        s = try sesame.client()
    }

    deinit {
        r.close(); s.close()
        redis.stop()
        sesame.stop()
    }

    /// Fresh connections to both (after a protocol error closed them, or to reset state such
    /// as HELLO 3 / SELECT).
    func reconnect() throws {
        r.close(); s.close()
        r = try RESPClient(port: redis.port)
        s = try sesame.client()
    }

    /// Sends `raw` to both and reads one reply from each.
    func replies(_ raw: [UInt8]) throws -> (redis: [UInt8], sesame: [UInt8]) {
        try r.send(raw)
        try s.send(raw)
        return (try r.readReply(), try s.readReply())
    }

    /// Byte-identical reply to a command.
    @discardableResult
    func check(_ args: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        try checkRaw(RESPClient.encode(args), label: args.joined(separator: " "), sourceLocation: sourceLocation)
    }

    func check(args: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        try checkRaw(RESPClient.encode(args), label: args.joined(separator: " "), sourceLocation: sourceLocation)
    }

    /// Byte-identical reply to arbitrary request bytes (inline commands, binary arguments).
    @discardableResult
    func checkRaw(_ raw: [UInt8], label: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
        let (a, b) = try replies(raw)
        let same = a == b
        #expect(same, "\(label ?? printable(raw)):\n  redis:  \(printable(a))\n  sesame: \(printable(b))",
                sourceLocation: sourceLocation)
        return a
    }

    func checkRaw(_ raw: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try checkRaw(bytes(raw), sourceLocation: sourceLocation)
    }

    /// Same elements in any order (SMEMBERS, HGETALL past the listpack limits). `pairs` treats
    /// a flat RESP2 array as field/value pairs.
    func checkUnordered(_ args: String..., pairs: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (a, b) = try replies(RESPClient.encode(args))
        let va = try RESPValue.parse(a), vb = try RESPValue.parse(b)
        let same = va.canonical(pairs: pairs) == vb.canonical(pairs: pairs)
        #expect(same, "\(args.joined(separator: " ")) (unordered):\n  redis:  \(printable(a))\n  sesame: \(printable(b))",
                sourceLocation: sourceLocation)
    }

    /// Integer replies that depend on elapsed time (PTTL): both in `range`.
    func checkInteger(_ args: String..., in range: ClosedRange<Int>, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (a, b) = try replies(RESPClient.encode(args))
        for (who, raw) in [("redis", a), ("sesame", b)] {
            let v = try RESPValue.parse(raw)
            guard case .integer(let n) = v else {
                Issue.record("\(args.joined(separator: " ")): \(who) replied \(printable(raw)), not an integer", sourceLocation: sourceLocation)
                continue
            }
            #expect(range.contains(n), "\(args.joined(separator: " ")): \(who) replied \(n), expected \(range)", sourceLocation: sourceLocation)
        }
    }

    /// Malformed input on fresh connections: the same error bytes, then both close.
    func checkProtocolError(_ raw: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        try reconnect()
        let (a, b) = try replies(raw)
        let same = a == b
        #expect(same, "protocol error for \(printable(raw)):\n  redis:  \(printable(a))\n  sesame: \(printable(b))",
                sourceLocation: sourceLocation)
        let isError = a.first == UInt8(ascii: "-")
        #expect(isError, "redis did not reply an error to \(printable(raw)): \(printable(a))",
                sourceLocation: sourceLocation)
        #expect(try r.waitForClose(), "redis kept the connection open after \(printable(raw))", sourceLocation: sourceLocation)
        #expect(try s.waitForClose(), "sesame kept the connection open after \(printable(raw))", sourceLocation: sourceLocation)
        try reconnect()
    }

    func checkProtocolError(_ raw: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try checkProtocolError(bytes(raw), sourceLocation: sourceLocation)
    }

    /// Input that must produce no reply at all (blank lines, `*0`): checked by sending it and
    /// then a PING, whose PONG must be the next reply on both.
    func checkSilent(_ raw: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (a, b) = try replies(raw + RESPClient.encode(["PING", "after"]))
        let expected = bytes("$5\r\nafter\r\n")
        #expect(a == expected, "redis: \(printable(a))", sourceLocation: sourceLocation)
        #expect(b == expected, "sesame replied to \(printable(raw)): \(printable(b))", sourceLocation: sourceLocation)
    }
}
