import Testing
@testable import SesameBenchCore

// `--plain-validate checked`: the plain mix's validate with SESSION.VALIDATE TOUCH's semantics
// (HGETALL, absoluteExpiry checked by the client, then HSET lastActivity + EXPIRE or DEL + SREM).
// Option parsing, the follow-up decision on each kind of HGETALL reply (exact bytes of round trip
// 2), and the generator's round trip 1. End-to-end runs against redis-server are in
// WorkloadIntegrationTests.

@Suite struct CheckedValidateTests {
    static let id = "q3Vt0b0mWk2zXo1f4d9cL6aQy8E"
    static let key = "sess:{42}:\(id)"
    static let now = 1_763_900_042_000

    /// An HGETALL reply (RESP2 array of bulk strings) for a seed-layout session of user 42.
    static func sessionReply(absoluteExpiry: String?, resp3: Bool = false) -> [UInt8] {
        var pairs = [("sessionId", id), ("userId", "42"), ("createdAt", "1763900000000"), ("lastActivity", "1763900000000")]
        if let absoluteExpiry { pairs.append(("absoluteExpiry", absoluteExpiry)) }
        pairs += [("ipAddress", "203.0.113.7"), ("userAgent", "Mozilla/5.0 (X11; Linux x86_64)")]
        var out = resp3 ? "%\(pairs.count)\r\n" : "*\(pairs.count * 2)\r\n"
        for (f, v) in pairs { out += "$\(f.utf8.count)\r\n\(f)\r\n$\(v.utf8.count)\r\n\(v)\r\n" }
        return Array(out.utf8)
    }

    static func followUp(_ reply: [UInt8], now: Int = now, ttl: Int = 1800) -> (replies: Int, bytes: String) {
        var b = CommandBuffer()
        let n = reply.withUnsafeBytes { SessionWorkload.checkedValidateFollowUp($0, nowMillis: now, idleTTL: ttl, into: &b) }
        return (n, String(decoding: b.bytes, as: UTF8.self))
    }

    static let touch = "*4\r\n$4\r\nHSET\r\n$37\r\n\(key)\r\n$12\r\nlastActivity\r\n$13\r\n\(now)\r\n"
        + "*3\r\n$6\r\nEXPIRE\r\n$37\r\n\(key)\r\n$4\r\n1800\r\n"
    static let delete = "*2\r\n$3\r\nDEL\r\n$37\r\n\(key)\r\n"
        + "*3\r\n$4\r\nSREM\r\n$18\r\nuser_sessions:{42}\r\n$37\r\n\(key)\r\n"

    // MARK: options

    @Test func optionDefaultsToPipelined() throws {
        let o = try BenchOptions.parse(["session"])
        #expect(o.session.plainValidate == .pipelined)
        #expect(BenchRunner.settingsDescription(o)["plainValidate"] == nil)
        let explicit = try BenchOptions.parse(["session", "--plain-validate", "pipelined"])
        #expect(explicit.session.plainValidate == .pipelined)
    }

    @Test func optionChecked() throws {
        for args in [["session", "--plain-validate", "checked"], ["session", "--plain-validate=checked"]] {
            let o = try BenchOptions.parse(args)
            #expect(o.session.plainValidate == .checked)
            #expect(BenchRunner.settingsDescription(o)["plainValidate"] == "checked")
        }
        #expect(BenchOptions.usage.contains("--plain-validate pipelined|checked"))
    }

    @Test func optionRejections() {
        func message(_ args: [String]) -> String? {
            do { _ = try BenchOptions.parse(args); return nil } catch { return "\(error)" }
        }
        let native = message(["session", "--sessions-native", "--plain-validate", "checked"])
        #expect(native?.contains("--plain-validate checked cannot be combined with --sessions-native") == true, "\(native ?? "accepted")")
        // Order does not matter.
        #expect(message(["session", "--plain-validate", "checked", "--sessions-native"]) == native)
        #expect(message(["session", "--plain-validate", "checked", "--cluster"])?.contains("not supported with --cluster") == true)
        #expect(message(["ops", "--plain-validate", "checked"])?.contains("session workload") == true)
        #expect(message(["session", "--plain-validate", "twice"])?.contains("expected pipelined or checked") == true)
        #expect(message(["session", "--plain-validate"])?.contains("needs a value") == true)
        // The default stays allowed with the native mix (it is the plain mix's setting).
        #expect(message(["session", "--sessions-native", "--plain-validate", "pipelined"]) == nil)
    }

    @Test func clusterEngineRefusesFollowUps() throws {
        var settings = SessionSettings()
        settings.plainValidate = .checked
        let workload = SessionWorkload(settings: settings, table: SessionTable(users: 10, slotsPerUser: 2))
        #expect(workload.sendsFollowUps)
        let seed = ServerTarget(name: "s", host: "127.0.0.1", port: 7600)
        let topology = try ClusterTopology.parse(.array([.array([.integer(0), .integer(16383),
                                                                 .array([.bulkString(Array("127.0.0.1".utf8)), .integer(7600)])])]), seed: seed)
        // Refused before connecting anywhere.
        #expect(throws: BenchError.self) { try ClusterEngine.run(workload, topology: topology, plan: LoadPlan(host: "127.0.0.1", port: 7600)) }
        settings.plainValidate = .pipelined
        #expect(!SessionWorkload(settings: settings, table: SessionTable(users: 10, slotsPerUser: 2)).sendsFollowUps)
        settings.plainValidate = .checked
        settings.native = true
        #expect(!SessionWorkload(settings: settings, table: SessionTable(users: 10, slotsPerUser: 2)).sendsFollowUps)
    }

    // MARK: the follow-up decision

    @Test func validSessionIsTouched() {
        let r = Self.followUp(Self.sessionReply(absoluteExpiry: String(Self.now + 1)))
        #expect(r.replies == 2)
        #expect(r.bytes == Self.touch)
        // RESP3 map: the same decision.
        #expect(Self.followUp(Self.sessionReply(absoluteExpiry: String(Self.now + 1), resp3: true)).bytes == Self.touch)
        // absoluteExpiry 0: no absolute lifetime.
        #expect(Self.followUp(Self.sessionReply(absoluteExpiry: "0")).bytes == Self.touch)
        // The idle TTL given is the one sent.
        #expect(Self.followUp(Self.sessionReply(absoluteExpiry: "0"), ttl: 60).bytes.hasSuffix("$2\r\n60\r\n"))
    }

    @Test func sessionPastAbsoluteExpiryIsDeleted() {
        // At the deadline counts as past it, as SESSION.VALIDATE does.
        for at in [Self.now, Self.now - 1, 1_000] {
            let r = Self.followUp(Self.sessionReply(absoluteExpiry: String(at)))
            #expect(r.replies == 2)
            #expect(r.bytes == Self.delete, "absoluteExpiry \(at)")
        }
        // Missing or unreadable: fail closed.
        #expect(Self.followUp(Self.sessionReply(absoluteExpiry: nil)).bytes == Self.delete)
        #expect(Self.followUp(Self.sessionReply(absoluteExpiry: "soon")).bytes == Self.delete)
        #expect(Self.followUp(Self.sessionReply(absoluteExpiry: "")).bytes == Self.delete)
    }

    @Test func missingSessionHasNoSecondRoundTrip() {
        for reply in ["*0\r\n", "*-1\r\n", "_\r\n", "%0\r\n", "-ERR oops\r\n", ":1\r\n", "+OK\r\n",
                      "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"] {
            let r = Self.followUp(Array(reply.utf8))
            #expect(r.replies == 0 && r.bytes.isEmpty, "\(reply.debugDescription)")
        }
        // Not a session hash (no userId / sessionId to name the key), or malformed: nothing.
        #expect(Self.followUp(Array("*2\r\n$1\r\nf\r\n$1\r\nv\r\n".utf8)).replies == 0)
        var truncated = Self.sessionReply(absoluteExpiry: "0")
        truncated.removeLast(3)
        #expect(Self.followUp(truncated).replies == 0)
        #expect(Self.followUp(Array("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n".utf8)).replies == 0)
    }

    // MARK: the generator

    /// One user with one live session, so every validation names `sess:{0}:<id>`.
    static func generator(_ mode: PlainValidate) -> SessionWorkload.Generator {
        var settings = SessionSettings()
        settings.sessions = 1
        settings.users = 1
        settings.mix = [100, 0, 0, 0, 0]
        settings.plainValidate = mode
        let table = SessionTable(users: 1, slotsPerUser: 1)
        Array(id.utf8).withUnsafeBytes { table.set(user: 0, slot: 0, id: $0) }
        return SessionWorkload(settings: settings, table: table).makeGenerator(worker: 0, seed: 1)
    }

    @Test func pipelinedValidateIsUnchanged() {
        var g = Self.generator(.pipelined)
        var b = CommandBuffer()
        let (type, replies) = g.encodeNext(into: &b)
        #expect(type == SessionOperation.validate.rawValue && replies == 2)
        let key = "sess:{0}:\(Self.id)"
        #expect(String(decoding: b.bytes, as: UTF8.self)
                == "*2\r\n$7\r\nHGETALL\r\n$36\r\n\(key)\r\n*3\r\n$6\r\nEXPIRE\r\n$36\r\n\(key)\r\n$4\r\n1800\r\n")
        // Its replies ask for nothing more.
        var more = CommandBuffer()
        #expect(Array(":1\r\n".utf8).withUnsafeBytes { g.observeLastReply(type: type, $0, followUp: &more) } == 0)
        #expect(Self.sessionReply(absoluteExpiry: "1").withUnsafeBytes { g.observeLastReply(type: type, $0, followUp: &more) } == 0)
        #expect(more.isEmpty)
    }

    @Test func checkedValidateTakesTwoRoundTrips() {
        var g = Self.generator(.checked)
        var b = CommandBuffer()
        let (type, replies) = g.encodeNext(into: &b)
        #expect(type == SessionOperation.validate.rawValue && replies == 1)
        #expect(String(decoding: b.bytes, as: UTF8.self) == "*2\r\n$7\r\nHGETALL\r\n$36\r\nsess:{0}:\(Self.id)\r\n")

        // Round trip 2 against the generator's own clock (Unix milliseconds).
        var more = CommandBuffer()
        let before = Int(wallClockMillis())
        let valid = Self.sessionReply(absoluteExpiry: String(before + 3_600_000))
        #expect(valid.withUnsafeBytes { g.observeLastReply(type: type, $0, followUp: &more) } == 2)
        let after = Int(wallClockMillis())
        let text = String(decoding: more.bytes, as: UTF8.self)
        let prefix = "*4\r\n$4\r\nHSET\r\n$37\r\n\(Self.key)\r\n$12\r\nlastActivity\r\n$13\r\n"
        let suffix = "\r\n*3\r\n$6\r\nEXPIRE\r\n$37\r\n\(Self.key)\r\n$4\r\n1800\r\n"
        #expect(text.hasPrefix(prefix) && text.hasSuffix(suffix), "\(text.debugDescription)")
        if text.hasPrefix(prefix) && text.hasSuffix(suffix) {
            let stamp = Int(text.dropFirst(prefix.count).dropLast(suffix.count))
            #expect(stamp.map { $0 >= before && $0 <= after } == true, "lastActivity \(String(describing: stamp))")
        }

        more.removeAll()
        let expired = Self.sessionReply(absoluteExpiry: String(before - 1))
        #expect(expired.withUnsafeBytes { g.observeLastReply(type: type, $0, followUp: &more) } == 2)
        #expect(String(decoding: more.bytes, as: UTF8.self) == Self.delete)

        // Round trip 2's last reply (EXPIRE's or SREM's integer) ends the operation; so does a miss.
        more.removeAll()
        #expect(Array(":1\r\n".utf8).withUnsafeBytes { g.observeLastReply(type: type, $0, followUp: &more) } == 0)
        #expect(Array("*0\r\n".utf8).withUnsafeBytes { g.observeLastReply(type: type, $0, followUp: &more) } == 0)
        #expect(more.isEmpty)
        // Other operation types never get follow-ups.
        #expect(valid.withUnsafeBytes { g.observeLastReply(type: SessionOperation.list.rawValue, $0, followUp: &more) } == 0)
        #expect(more.isEmpty)
    }
}
