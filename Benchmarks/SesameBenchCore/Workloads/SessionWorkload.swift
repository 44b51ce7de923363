// `session`: a web session store under load. After a preload, each logical operation is one of
//   validate  HGETALL sess + EXPIRE sess ttl          (sliding idle timeout; the hot path)
//   login     HSET sess <7 fields> + EXPIRE + SADD user_sessions   (+ DEL/SREM of the evicted
//             session when the user already has all device slots taken)
//   update    HSET sess lastActivity <now>
//   logout    DEL sess + SREM user_sessions sess
//   list      SMEMBERS user_sessions
// with the commands of one operation pipelined together. Users are chosen Zipf(s) by popularity
// (rank 1 = user 0 is the hottest), so some keys are hot as in real traffic.
//
// That validate (`--plain-validate pipelined`, the default) does less than SESSION.VALIDATE TOUCH
// below: it never checks absoluteExpiry, never updates lastActivity, and re-arms the TTL before
// knowing the session is valid. `--plain-validate checked` does what an application must do on
// Redis for the same semantics, in two round trips that count as ONE validate operation (its
// latency runs from the HGETALL's send to the last reply: LoadEngine's follow-up commands):
//   1. HGETALL sess
//   2. the client parses the reply and compares absoluteExpiry (Unix milliseconds, as
//      SessionModel writes it; 0 = none) with its clock, then sends, pipelined together,
//        valid:                  HSET sess lastActivity <now ms> + EXPIRE sess ttl
//        at/past absoluteExpiry  DEL sess + SREM user_sessions sess
//        (or unreadable, failing closed as SESSION.VALIDATE does)
//      and nothing when the session is missing (empty reply): one round trip only.
// The second round trip's key is rebuilt from the reply's userId and sessionId fields, so the
// generator keeps no per-operation state across the validations in flight. (TOUCH also caps
// the TTL at absoluteExpiry; EXPIRE ttl does not, which differs only in a session's last
// idle-timeout before its absolute deadline: never, with the default 24 h lifetime and 30 min TTL.)
//
// `--sessions-native` runs the same mix with Sesame's SESSION.* commands (docs/SESSIONS.md) on
// the same data (the preload is the same plain HSET + EXPIRE + SADD):
//   validate  SESSION.VALIDATE <token> TOUCH       (token = base64url(userId) "." id)
//   login     SESSION.CREATE <userId> ipAddress <ip> userAgent <ua> [state <bytes>]
//   update    HSET sess lastActivity <now>          (unchanged: there is no SESSION.* for it)
//   logout    SESSION.REVOKE <token>
//   list      SESSION.LIST <userId>                 (devices with their fields, not just keys)
// The server picks a native login's ID: the client reads it back from the reply
// (observeLastReply) and records it in the SessionTable as a plain login does. When that
// evicts one of the user's sessions from the table, the user's next native login revokes it
// first (SESSION.REVOKE + SESSION.CREATE in one operation, as plain login does DEL + SREM).

public enum SessionOperation: Int, CaseIterable, Sendable {
    case validate, login, update, logout, list
    public var name: String { ["validate", "login", "update", "logout", "list"][rawValue] }
}

/// How the plain mix validates a session (`--plain-validate`).
public enum PlainValidate: String, Sendable, CaseIterable {
    /// HGETALL + EXPIRE pipelined: one round trip, no absoluteExpiry check, no lastActivity.
    case pipelined
    /// HGETALL, the client checks absoluteExpiry, then HSET lastActivity + EXPIRE (valid) or
    /// DEL + SREM (past it): two round trips, the semantics of SESSION.VALIDATE TOUCH.
    case checked
}

public struct SessionSettings: Sendable {
    public var sessions = 100_000
    /// Users; nil: sessions / 5 (five devices each on average).
    public var users: Int? = nil
    public var zipf = 0.99
    public var stateBytes = 0
    public var idleTTL = 1800
    public var absoluteLifetime = 86_400
    /// Weights per SessionOperation, in order validate, login, update, logout, list.
    public var mix = [80, 8, 8, 3, 1]
    public var native = false
    /// The plain mix's validate (ignored with `native`, and refused with it by the CLI).
    public var plainValidate = PlainValidate.pipelined

    public init() {}

    public var userCount: Int { max(1, users ?? max(1, sessions / 5)) }
    /// Device slots per user: twice the average, so logins mostly find a free slot.
    public var slotsPerUser: Int { max(2, 2 * ((sessions + userCount - 1) / userCount)) }

    /// Parses "validate=80,login=8,update=8,logout=3,list=1" (missing names get 0).
    public static func parseMix(_ text: String) throws -> [Int] {
        var weights = [0, 0, 0, 0, 0]
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: "=", maxSplits: 1)
            guard pieces.count == 2, let op = SessionOperation.allCases.first(where: { $0.name == pieces[0].trimmedOf(" ") }),
                  let weight = Int(pieces[1].trimmedOf(" ")), weight >= 0 else {
                throw BenchError("bad --mix entry '\(part)': expected validate|login|update|logout|list=<weight>")
            }
            weights[op.rawValue] = weight
        }
        guard weights.reduce(0, +) > 0 else { throw BenchError("--mix weights sum to 0") }
        return weights
    }
}

public struct SessionWorkload: Workload {
    public let settings: SessionSettings
    public let table: SessionTable
    let zipf: ZipfSampler
    let mix: WeightedChoice
    /// base64url of each user's decimal id followed by ".": the token prefix (native mode).
    let tokenPrefixes: [[UInt8]]
    /// Plain mix with `--plain-validate checked`: validate takes a second round trip.
    let checkedValidate: Bool

    public init(settings: SessionSettings, table: SessionTable) {
        self.settings = settings
        self.table = table
        zipf = ZipfSampler(count: table.users, exponent: settings.zipf)
        mix = WeightedChoice(weights: settings.mix)
        tokenPrefixes = settings.native ? (0..<table.users).map { Base64URL.encode(Array(String($0).utf8)) + [UInt8(ascii: ".")] } : []
        checkedValidate = !settings.native && settings.plainValidate == .checked
    }

    public var operationNames: [String] { SessionOperation.allCases.map(\.name) }
    public var sendsFollowUps: Bool { checkedValidate }

    public func makeGenerator(worker: Int, seed: UInt64) -> Generator {
        var rng = Xoshiro256(seed: seed)
        let state = settings.stateBytes > 0 ? (0..<(settings.stateBytes + 256)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } : []
        return Generator(workload: self, rng: rng, state: state)
    }

    public struct Generator: OperationGenerator {
        let workload: SessionWorkload
        var rng: Xoshiro256
        var ids = SessionIDSource()
        let state: [UInt8]
        var id = [UInt8](repeating: UInt8(ascii: "A"), count: 27)
        var evicted = [UInt8](repeating: 0, count: 27)
        var token = [UInt8](repeating: 0, count: 64)
        /// Sessions the table evicted after a native login, to revoke with a later login.
        var pendingRevokes: [(user: Int, id: [UInt8])] = []

        init(workload: SessionWorkload, rng: Xoshiro256, state: [UInt8]) {
            self.workload = workload
            self.rng = rng
            self.state = state
        }

        public mutating func encodeNext(into b: inout CommandBuffer) -> (type: Int, replies: Int) {
            let op = SessionOperation(rawValue: workload.mix.next(using: &rng))!
            let user = workload.zipf.next(using: &rng) - 1
            let table = workload.table
            let slot = rng.nextInt(table.slotsPerUser)
            let ttl = workload.settings.idleTTL
            switch op {
            case .validate:
                // A miss (no live session for this user) still costs the server a lookup.
                let found = id.withUnsafeMutableBytes { table.pickLive(user: user, startSlot: slot, into: $0) }
                if !found { missingID() }
                if workload.settings.native {
                    b.begin(3); b.arg("SESSION.VALIDATE"); argToken(user, id, into: &b); b.arg("TOUCH")
                    return (op.rawValue, 1)
                }
                if workload.checkedValidate {
                    // Round trip 1; observeLastReply decides round trip 2 from the reply.
                    id.withUnsafeBytes { key in b.begin(2); b.arg("HGETALL"); b.arg("sess:{", user, "}:", key) }
                    return (op.rawValue, 1)
                }
                id.withUnsafeBytes { key in
                    b.begin(2); b.arg("HGETALL"); b.arg("sess:{", user, "}:", key)
                    b.begin(3); b.arg("EXPIRE"); b.arg("sess:{", user, "}:", key); b.arg(ttl)
                }
                return (op.rawValue, 2)
            case .login:
                if workload.settings.native {
                    let withState = !state.isEmpty
                    var replies = 1
                    if let old = pendingRevokes.popLast() {
                        b.begin(2); b.arg("SESSION.REVOKE"); argToken(old.user, old.id, into: &b)
                        replies = 2
                    }
                    b.begin(6 + (withState ? 2 : 0)); b.arg("SESSION.CREATE"); b.arg(user)
                    b.arg("ipAddress"); b.argIPv4(SessionModel.ipAddress(user: user))
                    b.arg("userAgent"); SessionModel.userAgents[user % SessionModel.userAgents.count].withUnsafeBytes { b.arg($0) }
                    if withState {
                        let offset = rng.nextInt(256)
                        b.arg("state")
                        state.withUnsafeBytes { b.arg(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + workload.settings.stateBytes])) }
                    }
                    return (op.rawValue, replies)
                }
                id.withUnsafeMutableBytes { ids.next(into: $0) }
                let didEvict = id.withUnsafeBytes { newID in
                    evicted.withUnsafeMutableBytes { table.insert(user: user, startSlot: slot, id: newID, evicted: $0) }
                }
                let now = Int(wallClockMillis())
                id.withUnsafeBytes { key in
                    if state.isEmpty {
                        SessionModel.encodeCreate(into: &b, user: user, id: key, nowMillis: now,
                                                  absoluteLifetimeMillis: workload.settings.absoluteLifetime * 1000, state: nil)
                    } else {
                        let offset = rng.nextInt(256)
                        state.withUnsafeBytes { s in
                            SessionModel.encodeCreate(into: &b, user: user, id: key, nowMillis: now,
                                                      absoluteLifetimeMillis: workload.settings.absoluteLifetime * 1000,
                                                      state: UnsafeRawBufferPointer(rebasing: s[offset..<offset + workload.settings.stateBytes]))
                        }
                    }
                    b.begin(3); b.arg("EXPIRE"); b.arg("sess:{", user, "}:", key); b.arg(ttl)
                    b.begin(3); b.arg("SADD"); b.arg("user_sessions:{", user, "}"); b.arg("sess:{", user, "}:", key)
                }
                if didEvict {
                    evicted.withUnsafeBytes { old in
                        b.begin(2); b.arg("DEL"); b.arg("sess:{", user, "}:", old)
                        b.begin(3); b.arg("SREM"); b.arg("user_sessions:{", user, "}"); b.arg("sess:{", user, "}:", old)
                    }
                    return (op.rawValue, 5)
                }
                return (op.rawValue, 3)
            case .update:
                let found = id.withUnsafeMutableBytes { table.pickLive(user: user, startSlot: slot, into: $0) }
                if !found { missingID() }
                id.withUnsafeBytes { key in
                    b.begin(4); b.arg("HSET"); b.arg("sess:{", user, "}:", key); b.arg("lastActivity"); b.arg(Int(wallClockMillis()))
                }
                return (op.rawValue, 1)
            case .logout:
                let found = id.withUnsafeMutableBytes { table.pickLive(user: user, startSlot: slot, into: $0, remove: true) }
                if !found { missingID() }
                if workload.settings.native {
                    b.begin(2); b.arg("SESSION.REVOKE"); argToken(user, id, into: &b)
                    return (op.rawValue, 1)
                }
                id.withUnsafeBytes { key in
                    b.begin(2); b.arg("DEL"); b.arg("sess:{", user, "}:", key)
                    b.begin(3); b.arg("SREM"); b.arg("user_sessions:{", user, "}"); b.arg("sess:{", user, "}:", key)
                }
                return (op.rawValue, 2)
            case .list:
                if workload.settings.native {
                    b.begin(2); b.arg("SESSION.LIST"); b.arg(user)
                    return (op.rawValue, 1)
                }
                b.begin(2); b.arg("SMEMBERS"); b.arg("user_sessions:{", user, "}")
                return (op.rawValue, 1)
            }
        }

        /// Checked validate: decides round trip 2 from the HGETALL reply (the reply of round
        /// trip 2, an integer, asks for nothing more). Native login: records the session it
        /// created (its reply is the token).
        public mutating func observeLastReply(type: Int, _ reply: UnsafeRawBufferPointer, followUp: inout CommandBuffer) -> Int {
            if type == SessionOperation.validate.rawValue {
                guard workload.checkedValidate else { return 0 }
                return SessionWorkload.checkedValidateFollowUp(reply, nowMillis: Int(wallClockMillis()),
                                                               idleTTL: workload.settings.idleTTL, into: &followUp)
            }
            guard workload.settings.native, type == SessionOperation.login.rawValue,
                  reply.count > 32, reply[0] == UInt8(ascii: "$") else { return 0 }
            // "$<n>\r\n" base64url(decimal userId) "." id(27) "\r\n"
            guard let lf = reply.firstIndex(of: 10) else { return 0 }
            let token = UnsafeRawBufferPointer(rebasing: reply[(lf + 1)..<(reply.count - 2)])
            guard token.count > 28, token[token.count - 28] == UInt8(ascii: ".") else { return 0 }
            guard let user = Base64URL.decodeDecimal(UnsafeRawBufferPointer(rebasing: token[..<(token.count - 28)])),
                  user >= 0, user < workload.table.users else { return 0 }
            let newID = UnsafeRawBufferPointer(rebasing: token[(token.count - 27)...])
            let slot = rng.nextInt(workload.table.slotsPerUser)
            let didEvict = evicted.withUnsafeMutableBytes { workload.table.insert(user: user, startSlot: slot, id: newID, evicted: $0) }
            if didEvict && pendingRevokes.count < 256 { pendingRevokes.append((user, evicted)) }
            return 0
        }

        /// Writes the token of (user, `id`) as one argument, without allocating.
        private mutating func argToken(_ user: Int, _ id: [UInt8], into b: inout CommandBuffer) {
            let prefix = workload.tokenPrefixes[user]
            let n = prefix.count + 27
            if token.count < n { token = [UInt8](repeating: 0, count: n) }
            for i in 0..<prefix.count { token[i] = prefix[i] }
            for i in 0..<27 { token[prefix.count + i] = id[i] }
            token.withUnsafeBytes { b.arg(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }

        private mutating func missingID() {
            for i in 0..<27 { id[i] = UInt8(ascii: "0") }
        }
    }

    /// `--plain-validate checked`: round trip 2, decided from the reply to `HGETALL sess:{u}:<id>`
    /// (a RESP2 array, or RESP3 map, of field/value bulk strings). Appends the commands to `b`
    /// and returns how many replies they produce:
    ///   - valid (absoluteExpiry 0, or later than `nowMillis`): HSET sess lastActivity <nowMillis>
    ///     + EXPIRE sess <idleTTL>; 2
    ///   - at or past absoluteExpiry, or without a readable one (fail closed, as
    ///     SESSION.VALIDATE): DEL sess + SREM user_sessions:{u} sess; 2
    ///   - missing (empty array or null), an error, or not a session hash: nothing; 0
    /// The key is rebuilt from the reply's userId and sessionId fields. Allocation-free.
    static func checkedValidateFollowUp(_ reply: UnsafeRawBufferPointer, nowMillis: Int, idleTTL: Int,
                                        into b: inout CommandBuffer) -> Int {
        let count = reply.count
        guard count >= 4, reply[0] == UInt8(ascii: "*") || reply[0] == UInt8(ascii: "%") else { return 0 }
        var pos = 1
        guard let header = RESPScan.line(reply, &pos), let n = RESPScan.decimal(reply, header), n > 0 else { return 0 }
        let elements = reply[0] == UInt8(ascii: "%") ? n * 2 : n
        guard elements % 2 == 0 else { return 0 }
        var field = 0..<0
        var userId: Range<Int>? = nil, sessionId: Range<Int>? = nil, absolute: Range<Int>? = nil
        for k in 0..<elements {
            guard pos < count, reply[pos] == UInt8(ascii: "$") else { return 0 }
            pos += 1
            guard let h = RESPScan.line(reply, &pos), let length = RESPScan.decimal(reply, h), length >= 0,
                  length <= count - pos - 2 else { return 0 }
            let value = pos..<(pos + length)
            pos += length + 2
            if k % 2 == 0 { field = value; continue }
            if RESPScan.equals(reply, field, "absoluteExpiry") { absolute = value }
            else if RESPScan.equals(reply, field, "userId") { userId = value }
            else if RESPScan.equals(reply, field, "sessionId") { sessionId = value }
        }
        guard let userId, let user = RESPScan.decimal(reply, userId), user >= 0,
              let sessionId, !sessionId.isEmpty else { return 0 }
        let id = UnsafeRawBufferPointer(rebasing: reply[sessionId])
        if let absolute, let at = RESPScan.decimal(reply, absolute), at == 0 || nowMillis < at {
            b.begin(4); b.arg("HSET"); b.arg("sess:{", user, "}:", id); b.arg("lastActivity"); b.arg(nowMillis)
            b.begin(3); b.arg("EXPIRE"); b.arg("sess:{", user, "}:", id); b.arg(idleTTL)
        } else {
            b.begin(2); b.arg("DEL"); b.arg("sess:{", user, "}:", id)
            b.begin(3); b.arg("SREM"); b.arg("user_sessions:{", user, "}"); b.arg("sess:{", user, "}:", id)
        }
        return 2
    }

    /// Writes `settings.sessions` sessions (hash + EXPIRE + SADD each) and records them in
    /// `table`. Session i belongs to user i % users. Returns seconds taken.
    @discardableResult
    public static func preload(_ client: some CommandPipeline, settings: SessionSettings, table: SessionTable, seed: UInt64,
                               progress: ((Int) -> Void)? = nil) throws -> Double {
        var ids = SessionIDSource()
        var rng = Xoshiro256(seed: seed ^ 0xABCD)
        let state = settings.stateBytes > 0 ? (0..<(settings.stateBytes + 256)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } : []
        var id = [UInt8](repeating: 0, count: 27)
        let users = table.users
        let now = Int(wallClockMillis())
        let started = monotonicNanos()
        let batch = 200
        var done = 0
        while done < settings.sessions {
            let count = min(batch, settings.sessions - done)
            let result = try client.pipelined(count, batch: count) { i, b in
                let n = done + i
                let user = n % users
                let slot = (n / users) % table.slotsPerUser
                id.withUnsafeMutableBytes { ids.next(into: $0) }
                id.withUnsafeBytes { key in
                    table.set(user: user, slot: slot, id: key)
                    if state.isEmpty {
                        SessionModel.encodeCreate(into: &b, user: user, id: key, nowMillis: now,
                                                  absoluteLifetimeMillis: settings.absoluteLifetime * 1000, state: nil)
                    } else {
                        let offset = rng.nextInt(256)
                        state.withUnsafeBytes { s in
                            SessionModel.encodeCreate(into: &b, user: user, id: key, nowMillis: now,
                                                      absoluteLifetimeMillis: settings.absoluteLifetime * 1000,
                                                      state: UnsafeRawBufferPointer(rebasing: s[offset..<offset + settings.stateBytes]))
                        }
                    }
                    b.begin(3); b.arg("EXPIRE"); b.arg("sess:{", user, "}:", key); b.arg(settings.idleTTL)
                    b.begin(3); b.arg("SADD"); b.arg("user_sessions:{", user, "}"); b.arg("sess:{", user, "}:", key)
                }
                return 3
            }
            if result.errors > 0 { throw BenchError("preload failed: \(result.firstError ?? "error reply")") }
            done += count
            progress?(done)
        }
        return Double(monotonicNanos() - started) / 1e9
    }

    /// Probes SESSION.VALIDATE. nil when available, else the reason it is not.
    public static func nativeUnavailableReason(_ client: RESPClient, ttl: Int) throws -> String? {
        let reply = try client.command("SESSION.VALIDATE", "MA.AAAAAAAAAAAAAAAAAAAAAAAAAAA")
        if reply.isError, let text = reply.string, text.lowercased().contains("unknown command") { return text }
        return nil
    }
}

/// Allocation-free reading of RESP reply bytes in place (checked validation).
enum RESPScan {
    /// The line starting at `pos` (without its CRLF); moves `pos` past the CRLF. nil if incomplete.
    @inline(__always)
    static func line(_ r: UnsafeRawBufferPointer, _ pos: inout Int) -> Range<Int>? {
        var i = pos
        while i + 1 < r.count {
            if r[i] == 13 {
                guard r[i + 1] == 10 else { return nil }
                let range = pos..<i
                pos = i + 2
                return range
            }
            i += 1
        }
        return nil
    }

    /// A decimal integer filling `range` exactly (optional '-', 1 to 18 digits), else nil.
    @inline(__always)
    static func decimal(_ r: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        var i = range.lowerBound
        let negative = i < range.upperBound && r[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard i < range.upperBound, range.upperBound - i <= 18 else { return nil }
        var value = 0
        while i < range.upperBound {
            let d = Int(r[i]) - 48
            guard d >= 0 && d <= 9 else { return nil }
            value = value * 10 + d
            i += 1
        }
        return negative ? -value : value
    }

    @inline(__always)
    static func equals(_ r: UnsafeRawBufferPointer, _ range: Range<Int>, _ text: StaticString) -> Bool {
        guard range.count == text.utf8CodeUnitCount else { return false }
        let p = text.utf8Start
        for k in 0..<range.count where r[range.lowerBound + k] != p[k] { return false }
        return true
    }
}
