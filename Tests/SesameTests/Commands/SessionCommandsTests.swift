import Testing
@testable import Sesame

/// A RESP2/RESP3 reply decoded just enough for assertions.
indirect enum SessionReply: Hashable {
    case bulk(String), integer(Int), null, error(String), simple(String), array([SessionReply])

    var string: String? { if case .bulk(let s) = self { return s }; return nil }
    var items: [SessionReply] { if case .array(let a) = self { return a }; return [] }
    /// A flat field/value array (HGETALL, RESP2 maps) as a dictionary.
    var fields: [String: String] {
        var d: [String: String] = [:]
        let a = items
        var i = 0
        while i + 1 < a.count { d[a[i].string ?? ""] = a[i + 1].string; i += 2 }
        return d
    }

    static func parse(_ text: String) -> SessionReply {
        var b = Array(text.utf8)[...]
        return parseOne(&b)
    }

    private static func line(_ b: inout ArraySlice<UInt8>) -> String {
        let end = b.firstIndex(of: 13)!
        let s = String(decoding: b[b.startIndex..<end], as: UTF8.self)
        b = b[(end + 2)...]
        return s
    }

    private static func parseOne(_ b: inout ArraySlice<UInt8>) -> SessionReply {
        let t = b.removeFirst()
        let l = line(&b)
        switch t {
        case UInt8(ascii: "$"):
            let n = Int(l)!
            if n < 0 { return .null }
            let s = String(decoding: b.prefix(n), as: UTF8.self)
            b = b.dropFirst(n + 2)
            return .bulk(s)
        case UInt8(ascii: ":"): return .integer(Int(l)!)
        case UInt8(ascii: "-"): return .error(l)
        case UInt8(ascii: "+"): return .simple(l)
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: "*"), UInt8(ascii: "%"):
            let n = Int(l)!
            if n < 0 { return .null }
            let count = t == UInt8(ascii: "%") ? 2 * n : n
            return .array((0..<count).map { _ in parseOne(&b) })
        default: fatalError("unexpected reply type \(t)")
        }
    }
}

extension CommandHarness {
    func reply(_ args: String...) -> SessionReply { SessionReply.parse(run(args)) }

    /// SESSION.CREATE, returning the token.
    func create(_ args: String...) -> String {
        let r = SessionReply.parse(run(["SESSION.CREATE"] + args))
        guard let t = r.string else { Issue.record("SESSION.CREATE \(args) replied \(r)"); return "" }
        return t
    }

    /// The key a token names.
    func key(_ token: String) -> String {
        String(decoding: Array(token.utf8).withUnsafeBytes { SessionID.key(fromToken: $0)! }, as: UTF8.self)
    }
}

@Suite struct SessionCommandsTests {
    @Test func createWritesAPlainHashAndSet() {
        let h = CommandHarness()
        let now = h.clock.nowMilliseconds()
        let token = h.create("42", "ipAddress", "10.0.0.1", "userAgent", "curl/8", "role", "admin")
        let parts = token.split(separator: ".")
        #expect(parts.count == 2 && parts[0] == "NDI" && parts[1].count == 27)
        let key = h.key(token)
        #expect(key == "sess:{42}:\(parts[1])")
        let f = h.reply("HGETALL", key).fields
        #expect(f["sessionId"] == String(parts[1]))
        #expect(f["userId"] == "42")
        #expect(f["createdAt"] == "\(now)" && f["lastActivity"] == "\(now)")
        #expect(f["absoluteExpiry"] == "\(now + 7 * 86_400_000)")
        #expect(f["idleTimeout"] == "1800")
        #expect(f["ipAddress"] == "10.0.0.1" && f["userAgent"] == "curl/8" && f["role"] == "admin")
        #expect(h.run("TTL", key) == ":1800\r\n")
        #expect(h.reply("SMEMBERS", "user_sessions:{42}") == .array([.bulk(key)]))
        #expect(h.run("TYPE", "user_sessions:{42}") == "+set\r\n")
    }

    @Test func createOptionsAndErrors() {
        let h = CommandHarness()
        let t = h.create("u", "IDLE", "60", "absolute", "120", "MAXDEVICES", "3", "k", "v")
        #expect(h.run("TTL", h.key(t)) == ":60\r\n")
        #expect(h.reply("HGET", h.key(t), "idleTimeout") == .bulk("60"))
        // ABSOLUTE shorter than IDLE caps the TTL.
        let t2 = h.create("u", "IDLE", "600", "ABSOLUTE", "30")
        #expect(h.run("TTL", h.key(t2)) == ":30\r\n")
        // No timeouts at all: no TTL, absoluteExpiry 0.
        let t3 = h.create("u", "IDLE", "0", "ABSOLUTE", "0")
        #expect(h.run("TTL", h.key(t3)) == ":-1\r\n")
        #expect(h.reply("HGET", h.key(t3), "absoluteExpiry") == .bulk("0"))
        #expect(h.run("SESSION.CREATE", "u", "field") == "-ERR syntax error\r\n")
        #expect(h.run("SESSION.CREATE", "u", "IDLE", "-1") == "-ERR IDLE must be between 0 and 2147483647\r\n")
        #expect(h.run("SESSION.CREATE", "u", "MAXDEVICES", "x") == "-ERR MAXDEVICES must be between 0 and 100000\r\n")
        #expect(h.run("SESSION.CREATE", "u", "userId", "other") == "-ERR session field 'userId' is set by the server\r\n")
        #expect(h.run("SESSION.CREATE", "a{b", "f", "v").hasPrefix("-ERR invalid userId"))
        #expect(h.run("SESSION.CREATE", "").hasPrefix("-ERR invalid userId"))
        #expect(h.run("SESSION.CREATE", String(repeating: "x", count: 257)).hasPrefix("-ERR invalid userId"))
        #expect(h.run("SESSION.CREATE") == "-ERR wrong number of arguments for 'session.create' command\r\n")
        h.run("SET", "user_sessions:{w}", "x")
        #expect(h.run("SESSION.CREATE", "w") == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
        #expect(h.run("KEYS", "sess:{w}*") == "*0\r\n", "nothing written when the set is unusable")
    }

    @Test func validateAndTouch() {
        let h = CommandHarness()
        let t0 = h.clock.nowMilliseconds()
        let token = h.create("7", "IDLE", "100", "ipAddress", "1.2.3.4")
        let key = h.key(token)
        let v = h.reply("SESSION.VALIDATE", token).fields
        #expect(v["userId"] == "7" && v["ipAddress"] == "1.2.3.4" && v["lastActivity"] == "\(t0)")
        h.clock.advance(seconds: 60)
        // Without TOUCH nothing changes.
        #expect(h.reply("SESSION.VALIDATE", token).fields["lastActivity"] == "\(t0)")
        #expect(h.run("TTL", key) == ":40\r\n")
        let touched = h.reply("SESSION.VALIDATE", token, "touch").fields
        #expect(touched["lastActivity"] == "\(t0 + 60_000)")
        #expect(h.run("TTL", key) == ":100\r\n")
        #expect(h.reply("HGET", key, "lastActivity") == .bulk("\(t0 + 60_000)"))
        #expect(h.run("SESSION.VALIDATE", token, "NOPE") == "-ERR syntax error\r\n")
        // Unknown, malformed and non-canonical tokens are all just nil.
        for bad in ["", "x", "NDI.short", token + "x", "N.\(token.split(separator: ".")[1])", "NDI=.\(token.split(separator: ".")[1])",
                    String(token.dropLast()) + "B"] {
            #expect(h.run("SESSION.VALIDATE", bad) == "$-1\r\n", "token \(bad)")
        }
        h.run("SET", "sess:{x}:AAAAAAAAAAAAAAAAAAAAAAAAAAA", "str")
        #expect(h.run("SESSION.VALIDATE", "eA.AAAAAAAAAAAAAAAAAAAAAAAAAAA") == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
    }

    @Test func validateRepliesAMapInRESP3() {
        let h = CommandHarness()
        let token = h.create("m", "IDLE", "5")
        h.client.resp3 = true
        let r = h.run("SESSION.VALIDATE", token)
        #expect(r.hasPrefix("%6\r\n$9\r\nsessionId\r\n$27\r\n"))
        #expect(h.run("SESSION.VALIDATE", "bS.AAAAAAAAAAAAAAAAAAAAAAAAAAA") == "_\r\n")
        h.client.resp3 = false
    }

    @Test func validateReplyIsByteIdenticalToHGETALL() {
        // Small packed hashes, a 5,000-byte field (table form) and empty values, both protocols.
        let h = CommandHarness()
        let small = h.create("b", "e", "")
        let big = h.create("b", "blob", String(repeating: "x", count: 5000), "n", "1234567890")
        for resp3 in [false, true] {
            h.client.resp3 = resp3
            for t in [small, big] {
                #expect(h.run("SESSION.VALIDATE", t) == h.run("HGETALL", h.key(t)))
                let touched = h.run("SESSION.VALIDATE", t, "TOUCH")
                #expect(touched == h.run("HGETALL", h.key(t)))
            }
        }
        h.client.resp3 = false
    }

    @Test func idleExpiryRemovesTheSetMember() {
        let h = CommandHarness()
        let a = h.create("9", "IDLE", "10")
        let b = h.create("9", "IDLE", "1000")
        h.clock.advance(seconds: 11)
        h.expireUntilIdle()
        #expect(!h.isStored(h.key(a)))
        // The timer wheel deleted the key and, in the same step, its member.
        #expect(h.reply("SMEMBERS", "user_sessions:{9}") == .array([.bulk(h.key(b))]))
        #expect(h.run("SESSION.VALIDATE", a) == "$-1\r\n")
        h.clock.advance(seconds: 1000)
        h.expireUntilIdle()
        #expect(h.run("EXISTS", "user_sessions:{9}") == ":0\r\n", "the emptied set is deleted")
    }

    @Test func plainSessionsKeepRedisSemanticsOnExpiry() {
        // Written by a plain client (no idleTimeout field): expiry changes no other key.
        let h = CommandHarness()
        h.run("HSET", "sess:{42}:abc", "userId", "42")
        h.run("EXPIRE", "sess:{42}:abc", "10")
        h.run("SADD", "user_sessions:{42}", "sess:{42}:abc")
        h.clock.advance(seconds: 11)
        h.expireUntilIdle()
        #expect(!h.isStored("sess:{42}:abc"))
        #expect(h.reply("SMEMBERS", "user_sessions:{42}") == .array([.bulk("sess:{42}:abc")]))
        // SESSION.LIST still prunes it.
        #expect(h.run("SESSION.LIST", "42") == "*0\r\n")
        #expect(h.run("EXISTS", "user_sessions:{42}") == ":0\r\n")
    }

    @Test func lazyExpiryRemovesTheSetMember() {
        let h = CommandHarness()
        let a = h.create("9", "IDLE", "10")
        h.create("9", "IDLE", "1000")
        h.clock.advance(seconds: 11)
        // No active expiry ran: the VALIDATE's lookup expires the key and prunes the member.
        #expect(h.run("SESSION.VALIDATE", a, "TOUCH") == "$-1\r\n")
        #expect(h.run("SCARD", "user_sessions:{9}") == ":1\r\n")
    }

    @Test func absoluteExpiryIsNeverExtendedByTouch() {
        let h = CommandHarness()
        let token = h.create("abs", "IDLE", "100", "ABSOLUTE", "250")
        let key = h.key(token)
        for _ in 0..<2 {
            h.clock.advance(seconds: 90)
            #expect(h.reply("SESSION.VALIDATE", token, "TOUCH").fields["userId"] == "abs")
        }
        // At +180 s the idle deadline (+280 s) is past the absolute one (+250 s): TTL is capped.
        #expect(h.run("TTL", key) == ":70\r\n")
        h.clock.advance(seconds: 69)
        #expect(h.reply("SESSION.VALIDATE", token, "TOUCH").fields["userId"] == "abs")
        #expect(h.run("TTL", key) == ":1\r\n")
        h.clock.advance(seconds: 1)
        // At absoluteExpiry exactly: invalid, deleted, member gone, even before the wheel runs.
        #expect(h.run("SESSION.VALIDATE", token, "TOUCH") == "$-1\r\n")
        #expect(!h.isStored(key))
        #expect(h.run("EXISTS", "user_sessions:{abs}") == ":0\r\n")
    }

    @Test func absoluteExpiryWrittenByAPlainClientIsHonoured() {
        let h = CommandHarness()
        let token = h.create("p", "IDLE", "100")
        let key = h.key(token)
        h.run("HSET", key, "absoluteExpiry", "\(h.clock.nowMilliseconds() + 5000)")
        #expect(h.reply("SESSION.VALIDATE", token).fields["userId"] == "p")
        h.clock.advance(seconds: 5)
        #expect(h.run("SESSION.VALIDATE", token) == "$-1\r\n")
        let t2 = h.create("p")
        h.run("HSET", h.key(t2), "absoluteExpiry", "soon")
        #expect(h.run("SESSION.VALIDATE", t2) == "$-1\r\n", "an unreadable absoluteExpiry fails closed")
    }

    @Test func touchUsesTheServerDefaultForPlainSessions() {
        let h = CommandHarness()
        // A session as the seed's plain-command clients write it (no idleTimeout field).
        let id = "q3Vt0b0mWk2zXo1f4d9cL6aQy8E"
        h.run("HSET", "sess:{5}:\(id)", "sessionId", id, "userId", "5", "absoluteExpiry", "0")
        h.run("EXPIRE", "sess:{5}:\(id)", "10")
        h.run("CONFIG", "SET", "session-idle-timeout", "77")
        #expect(h.reply("SESSION.VALIDATE", "NQ.\(id)", "TOUCH").fields["userId"] == "5")
        #expect(h.run("TTL", "sess:{5}:\(id)") == ":77\r\n")
    }

    @Test func maxDevicesRevokesOldestFirst() {
        let h = CommandHarness()
        var tokens: [String] = []
        for i in 0..<4 {
            tokens.append(h.create("md", "ipAddress", "10.0.0.\(i)"))
            h.clock.advance(seconds: 1)
        }
        // Touching an old session does not make it younger: age is createdAt.
        h.run("SESSION.VALIDATE", tokens[0], "TOUCH")
        let newest = h.create("md", "MAXDEVICES", "2")
        #expect(h.run("SESSION.VALIDATE", tokens[0]) == "$-1\r\n")
        #expect(h.run("SESSION.VALIDATE", tokens[1]) == "$-1\r\n")
        #expect(h.run("SESSION.VALIDATE", tokens[2]) == "$-1\r\n")
        #expect(h.reply("SESSION.VALIDATE", tokens[3]).fields["ipAddress"] == "10.0.0.3")
        #expect(h.reply("SESSION.VALIDATE", newest).fields["userId"] == "md")
        #expect(Set(h.reply("SMEMBERS", "user_sessions:{md}").items) == [.bulk(h.key(tokens[3])), .bulk(h.key(newest))])
        // The server default applies when MAXDEVICES is not given.
        h.run("CONFIG", "SET", "session-max-devices", "1")
        let only = h.create("md")
        #expect(h.reply("SMEMBERS", "user_sessions:{md}") == .array([.bulk(h.key(only))]))
        #expect(h.run("KEYS", "sess:{md}*") == "*1\r\n$\(h.key(only).utf8.count)\r\n\(h.key(only))\r\n")
    }

    @Test func rotateKeepsDataAndKillsTheOldIdAtOnce() {
        let h = CommandHarness()
        let old = h.create("r", "IDLE", "100", "ABSOLUTE", "1000", "cart", "3 items")
        h.clock.advance(seconds: 30)
        let before = h.reply("HGETALL", h.key(old)).fields
        let new = h.reply("SESSION.ROTATE", old).string!
        #expect(new != old && new.hasPrefix("cg."))
        #expect(h.run("SESSION.VALIDATE", old) == "$-1\r\n")
        #expect(h.run("EXISTS", h.key(old)) == ":0\r\n")
        var after = h.reply("HGETALL", h.key(new)).fields
        #expect(after["sessionId"] == String(new.split(separator: ".")[1]))
        after["sessionId"] = before["sessionId"]
        #expect(after == before, "same data, only the id changed")
        #expect(h.run("TTL", h.key(new)) == ":70\r\n", "the TTL carries over")
        #expect(h.reply("SMEMBERS", "user_sessions:{r}") == .array([.bulk(h.key(new))]))
        #expect(h.run("SESSION.ROTATE", old) == "$-1\r\n")
        #expect(h.run("SESSION.ROTATE", "garbage") == "$-1\r\n")
    }

    @Test func revokeRevokeAllAndList() {
        let h = CommandHarness()
        let a = h.create("L", "ipAddress", "1.1.1.1", "userAgent", "A")
        h.clock.advance(seconds: 1)
        let b = h.create("L", "IDLE", "5", "ipAddress", "2.2.2.2")
        h.clock.advance(seconds: 1)
        let c = h.create("L", "ipAddress", "3.3.3.3", "userAgent", "C")
        let list = h.reply("SESSION.LIST", "L").items
        #expect(list.count == 3)
        #expect(list.map { $0.fields["id"] } == [a, b, c], "oldest first")
        #expect(list[0].fields["ipAddress"] == "1.1.1.1" && list[0].fields["userAgent"] == "A")
        #expect(list[1].items[9] == .null, "a missing userAgent is null")
        // A session deleted by a plain client, and one idle-expired: LIST prunes both members.
        h.run("DEL", h.key(c))
        h.clock.advance(seconds: 10)
        #expect(h.reply("SESSION.LIST", "L").items.map { $0.fields["id"] } == [a])
        #expect(h.reply("SMEMBERS", "user_sessions:{L}") == .array([.bulk(h.key(a))]))
        #expect(h.run("SESSION.REVOKE", a) == ":1\r\n")
        #expect(h.run("SESSION.REVOKE", a) == ":0\r\n")
        #expect(h.run("SESSION.REVOKE", "junk") == ":0\r\n")
        #expect(h.run("EXISTS", "user_sessions:{L}") == ":0\r\n")
        #expect(h.run("SESSION.LIST", "L") == "*0\r\n")

        for _ in 0..<5 { h.create("all") }
        let expiring = h.create("all", "IDLE", "1")
        h.create("other")
        h.clock.advance(seconds: 2)
        #expect(h.run("SESSION.REVOKEALL", "all") == ":5\r\n", "counts live sessions only")
        #expect(h.run("SESSION.VALIDATE", expiring) == "$-1\r\n")
        #expect(h.run("KEYS", "*{all}*") == "*0\r\n")
        #expect(h.run("SESSION.REVOKEALL", "all") == ":0\r\n")
        #expect(h.run("SCARD", "user_sessions:{other}") == ":1\r\n")
        h.run("SET", "user_sessions:{s}", "x")
        #expect(h.run("SESSION.LIST", "s").hasPrefix("-WRONGTYPE"))
        #expect(h.run("SESSION.REVOKEALL", "s").hasPrefix("-WRONGTYPE"))
    }

    @Test func watchSeesSessionChanges() {
        let h = CommandHarness()
        let token = h.create("w")
        let other = Client(id: 2, server: h.state, output: ByteBuffer())
        func runOther(_ args: [String]) {
            OwnedArguments(args).withArguments { Dispatcher.execute(other, $0) }
            other.output.clear()
        }
        h.run("WATCH", h.key(token))
        runOther(["SESSION.VALIDATE", token, "TOUCH"])
        h.run("MULTI")
        h.run("PING")
        #expect(h.run("EXEC") == "*-1\r\n", "TOUCH is a write WATCH sees")
        h.run("WATCH", "user_sessions:{w}")
        runOther(["SESSION.CREATE", "w"])
        h.run("MULTI")
        #expect(h.run("EXEC") == "*-1\r\n")
    }

    @Test func configDefaults() {
        let h = CommandHarness()
        #expect(h.reply("CONFIG", "GET", "session-*").fields == ["session-idle-timeout": "1800", "session-absolute-timeout": "604800", "session-max-devices": "0"])
        #expect(h.run("CONFIG", "SET", "session-idle-timeout", "60", "session-absolute-timeout", "3600") == "+OK\r\n")
        let t = h.create("d")
        #expect(h.run("TTL", h.key(t)) == ":60\r\n")
        #expect(h.reply("HGET", h.key(t), "absoluteExpiry") == .bulk("\(h.clock.nowMilliseconds() + 3_600_000)"))
        #expect(h.run("CONFIG", "SET", "session-max-devices", "-1").hasPrefix("-ERR CONFIG SET failed (possibly related to argument 'session-max-devices')"))
        let parsed = try? Configuration.parse(arguments: ["--session-idle-timeout", "900", "--session-absolute-timeout", "0", "--session-max-devices", "3"])
        #expect(parsed?.sessionIdleTimeout == 900 && parsed?.sessionAbsoluteTimeout == 0 && parsed?.sessionMaxDevices == 3)
        var cfg = Configuration()
        #expect(throws: Configuration.Error.self) { try cfg.set("session-idle-timeout", ["x"]) }
        #expect(throws: Configuration.Error.self) { try cfg.set("session-max-devices", ["100001"]) }
        try? cfg.set("session-max-devices", ["5"])
        #expect(cfg.sessionMaxDevices == 5)
    }

    @Test func sessionCommandsInsideMulti() {
        let h = CommandHarness()
        #expect(h.run("MULTI") == "+OK\r\n")
        #expect(h.run("SESSION.CREATE", "tx", "ipAddress", "1.1.1.1") == "+QUEUED\r\n")
        #expect(h.run("SESSION.LIST", "tx") == "+QUEUED\r\n")
        let r = SessionReply.parse(h.run("EXEC")).items
        #expect(r.count == 2)
        let token = r[0].string!
        #expect(r[1].items.first?.fields["id"] == token)
        #expect(h.reply("SESSION.VALIDATE", token).fields["ipAddress"] == "1.1.1.1")
    }

    @Test func keyPositions() {
        let h = CommandHarness()
        #expect(h.run("COMMAND", "GETKEYS", "SESSION.CREATE", "42", "IDLE", "5") == "*1\r\n$2\r\n42\r\n")
        #expect(h.run("COMMAND", "GETKEYS", "SESSION.LIST", "42") == "*1\r\n$2\r\n42\r\n")
        #expect(h.run("COMMAND", "GETKEYS", "SESSION.VALIDATE", "NDI.x") == "-ERR The command has no key arguments\r\n")
        // The userId's own slot is the slot of every key the command touches.
        let slot = Array("42".utf8).withUnsafeBytes { HashSlot.of($0) }
        #expect(Array("sess:{42}:abc".utf8).withUnsafeBytes { HashSlot.of($0) } == slot)
        #expect(Array("user_sessions:{42}".utf8).withUnsafeBytes { HashSlot.of($0) } == slot)
    }
}

@Suite struct SessionIDTests {
    @Test func formatAndUniqueness() {
        var seen = Set<[UInt8]>()
        var ones = [Int](repeating: 0, count: 160)
        let n = 20_000
        for _ in 0..<n {
            let id = SessionID.generate()
            #expect(id.count == 27)
            #expect(id.allSatisfy { Base64URL.value($0) >= 0 })
            #expect(id.withUnsafeBytes { Base64URL.isCanonical($0, decodedLength: 20) })
            #expect(seen.insert(id).inserted, "duplicate id")
            var raw: [UInt8] = []
            #expect(id.withUnsafeBytes { Base64URL.decode($0, appendingTo: &raw) } && raw.count == 20)
            for bit in 0..<160 where raw[bit / 8] >> (7 - bit % 8) & 1 == 1 { ones[bit] += 1 }
        }
        // Each bit is set in about half the ids: 20,000 fair coin flips stay within +-1.5%
        // of 50% except with probability ~2e-5 per bit (5 sigma is 1.77%).
        for (bit, count) in ones.enumerated() {
            let share = Double(count) / Double(n)
            #expect(share > 0.482 && share < 0.518, "bit \(bit) set in \(share * 100)% of ids")
        }
    }

    @Test func arbitraryTokensNeverCrashAndOnlyCanonicalOnesParse() {
        var rng = SplitMix64(seed: 8)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.{}=+/ \u{0}".utf8)
        for i in 0..<50_000 {
            let n = i % 5 == 0 ? Int.random(in: 0...400, using: &rng) : Int.random(in: 28...40, using: &rng)
            let t: [UInt8] = (0..<n).map { _ in i % 2 == 0 ? alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] : UInt8.random(in: 0...255, using: &rng) }
            guard let key = t.withUnsafeBytes({ SessionID.key(fromToken: $0) }) else { continue }
            // Whatever parses names a well-formed key whose token is the input again.
            let parts = key.withUnsafeBytes { SessionID.parts(ofKey: $0) }
            #expect(parts != nil)
            if let parts {
                let back = key.withUnsafeBytes { k in
                    SessionID.token(userId: UnsafeRawBufferPointer(rebasing: k[parts.userId]), id: UnsafeRawBufferPointer(rebasing: k[parts.id]))
                }
                #expect(back == t)
            }
        }
    }

    @Test func tokenRoundTripAndCanonicalForm() {
        let id = "q3Vt0b0mWk2zXo1f4d9cL6aQy8E"
        for user in ["42", "alice@example.com", "ü", String(repeating: "z", count: 256)] {
            let token = Array(user.utf8).withUnsafeBytes { u in Array(id.utf8).withUnsafeBytes { SessionID.token(userId: u, id: $0) } }
            #expect(!token.contains(UInt8(ascii: "=")) && token.filter { $0 == UInt8(ascii: ".") }.count == 1)
            let key = token.withUnsafeBytes { SessionID.key(fromToken: $0) }
            #expect(key == Array("sess:{\(user)}:\(id)".utf8))
        }
        // "NDI" is 42; "NDJ" decodes to the same bytes with stray low bits: rejected.
        #expect(Array("NDJ.\(id)".utf8).withUnsafeBytes { SessionID.key(fromToken: $0) } == nil)
        // A userId with a brace (base64url of "a{") is refused: it would split the hash tag.
        #expect(Array("YXs.\(id)".utf8).withUnsafeBytes { SessionID.key(fromToken: $0) } == nil)
        #expect(Array(".\(id)".utf8).withUnsafeBytes { SessionID.key(fromToken: $0) } == nil)
    }
}
