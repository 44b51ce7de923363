// SESSION.* (a Sesame extension; docs/SESSIONS.md): the session-store recipe of several round
// trips (or a Lua script) on Redis, as one atomic command each, on data that stays plain hashes
// and sets:
//
//   sess:{<userId>}:<id>      hash  sessionId userId createdAt lastActivity absoluteExpiry
//                                   idleTimeout [field value ...]; TTL = the nearer of the
//                                   idle deadline and absoluteExpiry
//   user_sessions:{<userId>}  set   the user's session keys
//
// Both keys of a user carry the `{userId}` hash tag, so they live in one shard: each command
// takes that one lock and does everything inside it. Changes go through the same Shard calls
// as HSET / SADD / DEL / EXPIRE (mutate, remove, overwrite, scheduleExpiry: memory accounting,
// WATCH versions, LRU clock) and the same keyspace notifications after the lock is released.
//
// Key positions (COMMAND, COMMAND GETKEYS): SESSION.CREATE / REVOKEALL / LIST report their
// userId as the key (1, 1, 1). No key is literally named so, but a userId without braces
// hashes to the same slot as `{userId}`, i.e. as every key the command touches, so slot
// routing and CROSSSLOT checks on that position are exact. SESSION.VALIDATE / ROTATE / REVOKE
// take a token, whose slot the Cluster rule cannot see (base64url(userId).id): they report no
// key positions, like other keyless commands, and touch only the token's user's slot.

let sessionCommands: [CommandSpec] = [
    CommandSpec("session.create", arity: -2, flags: [.write, .denyOOM], keys: (1, 1, 1), categories: ["@write", "@hash", "@set", "@slow"], handler: sessionCreate),
    CommandSpec("session.validate", arity: -2, flags: [.write, .fast], categories: ["@write", "@hash", "@fast"], handler: sessionValidate),
    CommandSpec("session.rotate", arity: 2, flags: [.write, .denyOOM], categories: ["@write", "@hash", "@set", "@slow"], handler: sessionRotate),
    CommandSpec("session.revoke", arity: 2, flags: [.write, .fast], categories: ["@write", "@keyspace", "@set", "@fast"], handler: sessionRevoke),
    CommandSpec("session.revokeall", arity: 2, flags: [.write], keys: (1, 1, 1), categories: ["@write", "@keyspace", "@set", "@slow"], handler: sessionRevokeAll),
    CommandSpec("session.list", arity: 2, flags: [.write], keys: (1, 1, 1), categories: ["@write", "@set", "@slow"], handler: sessionList),
]

/// Field names the server writes; SESSION.CREATE refuses them as app fields.
enum SessionField {
    static let sessionId: StaticString = "sessionId"
    static let userId: StaticString = "userId"
    static let createdAt: StaticString = "createdAt"
    static let lastActivity: StaticString = "lastActivity"
    static let absoluteExpiry: StaticString = "absoluteExpiry"
    static let idleTimeout: StaticString = "idleTimeout"
    static let ipAddress: StaticString = "ipAddress"
    static let userAgent: StaticString = "userAgent"
    static let reserved: [StaticString] = [sessionId, userId, createdAt, lastActivity, absoluteExpiry, idleTimeout]
    /// App fields per session, so the hash stays in the packed form (PackedLimits.maxEntries).
    static let maxAppFields = 64
}

@inline(__always)
private func raw<R>(_ s: StaticString, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    body(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
}

@inline(__always)
private func withDecimal<R>(_ v: Int64, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
        var n = v < 0 ? 0 : v
        var i = 20
        repeat {
            i -= 1
            buf[i] = UInt8(truncatingIfNeeded: n % 10) + 48
            n /= 10
        } while n > 0
        return body(UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buf)[i...]))
    }
}

extension HashValue {
    /// An integer field; 0 when absent, nil when present but not an integer.
    @inline(__always)
    func integerField(_ name: StaticString) -> Int64? {
        raw(name) { f in withValue(f) { v in v.map { parseStrictInt64($0) } ?? 0 } }
    }

    @inline(__always)
    mutating func setField(_ name: StaticString, _ value: UnsafeRawBufferPointer) {
        raw(name) { f in _ = set(f, value) }
    }

    @inline(__always)
    mutating func setField(_ name: StaticString, integer: Int64) {
        withDecimal(integer) { v in setField(name, v) }
    }
}

/// When a session stops validating: the nearer of the idle deadline and the absolute one
/// (0 = neither), which is also the key's TTL, so the timer wheel deletes it at that moment.
@inline(__always)
func sessionDeadline(now: Int64, idleSeconds: Int64, absoluteAt: Int64) -> Int64 {
    var at: Int64 = idleSeconds > 0 ? now + idleSeconds * 1000 : 0
    if absoluteAt > 0 && (at == 0 || absoluteAt < at) { at = absoluteAt }
    return at
}

/// Past its absolute lifetime (or holding an unreadable one: fail closed).
@inline(__always)
private func pastAbsolute(_ h: HashValue, now: Int64) -> Bool {
    guard let at = h.integerField(SessionField.absoluteExpiry) else { return true }
    return at != 0 && now >= at
}

/// Keyspace notifications a SESSION.* command owes, sent after its lock is released (as the
/// other commands do). Collected only when notifications are on.
private struct PendingNotifications {
    let active: Bool
    var events: [(cls: NotifyClass, event: String, key: [UInt8])] = []
    init(_ c: Client) { active = c.server.notifier.active }
    @inline(__always) mutating func add(_ cls: NotifyClass, _ event: String, _ key: Key) {
        if active { events.append((cls, event, key.bytes)) }
    }
    func send(_ c: Client) {
        for e in events { e.key.withUnsafeBytes { c.notify(e.cls, e.event, $0) } }
    }
}

/// Deletes a session key and its member in the user's set; true when the session was live.
@discardableResult
private func dropSession(_ c: Client, _ shard: Shard, key: Key, setKey: Key, now: Int64,
                         _ notes: inout PendingNotifications) -> Bool {
    let live = shard.remove(c.db, key, now: now)
    if live { notes.add(.generic, "del", key) }
    let wasMember = key.bytes.withUnsafeBytes { shard.removeSessionMember(c.db, setKey: setKey, member: $0) }
    if wasMember && notes.active { notes.add(.set, "srem", setKey) }
    return live
}

/// Adds a session key to its user's set, creating the set.
private func addMember(_ c: Client, _ shard: Shard, setKey: Key, member: Key, now: Int64,
                       _ notes: inout PendingNotifications) {
    shard.mutate(c.db, setKey, now: now) { slot in
        var s = slot?.takeSet() ?? SetValue()
        member.bytes.withUnsafeBytes { _ = s.insert($0) }
        if slot == nil { slot = Entry(value: .set(s)) } else { slot!.value = .set(s) }
    }
    notes.add(.set, "sadd", setKey)
}

/// Whether the key at `setKey` is missing or a set; replies WRONGTYPE otherwise.
private func userSetUsable(_ c: Client, _ shard: Shard, _ setKey: Key, now: Int64) -> Bool {
    guard let e = shard.lookup(c.db, setKey, now: now) else { return true }
    if case .set = e.value { return true }
    c.reply.error(RedisError.wrongType)
    return false
}

// MARK: - SESSION.CREATE

private struct CreateOptions {
    var idle: Int64
    var absolute: Int64
    var maxDevices: Int64
    var firstField: Int
}

private func parseCreateOptions(_ c: Client, _ args: Arguments) -> CreateOptions? {
    let d = c.server.sessionDefaults
    var o = CreateOptions(idle: Int64(d.get(.idle)), absolute: Int64(d.get(.absolute)),
                          maxDevices: Int64(d.get(.maxDevices)), firstField: 2)
    var i = 2
    // Options come first; the first word that is not one starts the field/value pairs.
    while i + 1 < args.count {
        let seconds = 0...Int64(SessionDefaults.maxSeconds)
        if args.matches(i, "idle") {
            guard let v = IntegerArgument.inRange(c, args, i + 1, seconds, message: "IDLE must be between 0 and \(SessionDefaults.maxSeconds)") else { return nil }
            o.idle = v
        } else if args.matches(i, "absolute") {
            guard let v = IntegerArgument.inRange(c, args, i + 1, seconds, message: "ABSOLUTE must be between 0 and \(SessionDefaults.maxSeconds)") else { return nil }
            o.absolute = v
        } else if args.matches(i, "maxdevices") {
            guard let v = IntegerArgument.inRange(c, args, i + 1, 0...Int64(SessionDefaults.maxDevicesLimit), message: "MAXDEVICES must be between 0 and \(SessionDefaults.maxDevicesLimit)") else { return nil }
            o.maxDevices = v
        } else {
            break
        }
        i += 2
    }
    o.firstField = i
    let pairs = args.count - i
    if pairs % 2 != 0 { c.reply.error(RedisError.syntax); return nil }
    if pairs / 2 > SessionField.maxAppFields {
        c.reply.error(string: "ERR too many session fields (at most \(SessionField.maxAppFields))")
        return nil
    }
    var j = i
    while j < args.count {
        for r in SessionField.reserved where raw(r, { rawEqual($0, args[j]) }) {
            c.reply.error(string: "ERR session field '\(r)' is set by the server")
            return nil
        }
        j += 2
    }
    return o
}

/// SESSION.CREATE <userId> [IDLE sec] [ABSOLUTE sec] [MAXDEVICES n] [field value ...]
func sessionCreate(_ c: Client, _ args: Arguments) {
    let userId = args[1]
    guard SessionID.isValidUserId(userId) else {
        c.reply.error(string: "ERR invalid userId (1 to \(SessionID.maxUserIdBytes) bytes, no '{' or '}')")
        return
    }
    guard let o = parseCreateOptions(c, args) else { return }
    let now = c.now
    let id = SessionID.generate()
    var h = HashValue()
    // The standard fields take under 200 encoded bytes besides the userId; one allocation
    // for the whole hash, trimmed after.
    h.reservePacked(200 + userId.count + PackedList.encodedSize(of: args, from: o.firstField))
    id.withUnsafeBytes { h.setField(SessionField.sessionId, $0) }
    h.setField(SessionField.userId, userId)
    h.setField(SessionField.createdAt, integer: now)
    h.setField(SessionField.lastActivity, integer: now)
    let absoluteAt = o.absolute > 0 ? now + o.absolute * 1000 : 0
    h.setField(SessionField.absoluteExpiry, integer: absoluteAt)
    h.setField(SessionField.idleTimeout, integer: o.idle)
    var j = o.firstField
    while j < args.count {
        _ = h.set(args[j], args[j + 1])
        j += 2
    }
    h.shrinkToFit()
    let key = id.withUnsafeBytes { Key(SessionID.sessionKey(userId, $0)) }
    let setKey = Key(SessionID.userSetKey(userId))
    let deadline = sessionDeadline(now: now, idleSeconds: o.idle, absoluteAt: absoluteAt)
    var notes = PendingNotifications(c)
    let created: Bool = c.keyspace.withShard(userId) { shard in
        guard userSetUsable(c, shard, setKey, now: now) else { return false }
        shard.mutate(c.db, key, now: now) { slot in
            shard.overwrite(c.db, key, &slot, with: Entry(value: .hash(h), expireAt: deadline))
        }
        notes.add(.hash, "hset", key)
        if deadline != 0 { notes.add(.generic, "expire", key) }
        addMember(c, shard, setKey: setKey, member: key, now: now, &notes)
        if o.maxDevices > 0 {
            enforceMaxDevices(c, shard, userId: userId, setKey: setKey, keep: key, limit: Int(o.maxDevices), now: now, &notes)
        }
        return true
    }
    guard created else { return }
    id.withUnsafeBytes { c.reply.bulk(SessionID.token(userId: userId, id: $0)) }
    notes.send(c)
}

/// A live session of the user's set, as LIST and MAXDEVICES see it.
private struct LiveSession {
    let key: Key
    let createdAt: Int64
    let hash: HashValue
}

/// The user's live sessions, oldest first (createdAt, then key). Members that name a missing,
/// expired or past-absolute session are pruned from the set on the way; members that are not
/// `sess:{<userId>}:...` keys are not sessions of this user and are left alone.
private func liveSessions(_ c: Client, _ shard: Shard, userId: UnsafeRawBufferPointer, setKey: Key, now: Int64,
                          _ notes: inout PendingNotifications) -> [LiveSession] {
    guard let e = shard.lookup(c.db, setKey, now: now), case .set(let members) = e.value else { return [] }
    var keys: [Key] = []
    members.forEach { m in
        guard let parts = SessionID.parts(ofKey: m), rawEqual(UnsafeRawBufferPointer(rebasing: m[parts.userId]), userId) else { return }
        keys.append(Key(m))
    }
    var live: [LiveSession] = []
    for key in keys {
        // Lazy expiry in lookup already drops an expired session's member (Shard.sessionKeyGone).
        guard let s = shard.lookup(c.db, key, now: now) else {
            let pruned = key.bytes.withUnsafeBytes { shard.removeSessionMember(c.db, setKey: setKey, member: $0) }
            if pruned { notes.add(.set, "srem", setKey) }
            continue
        }
        guard case .hash(let h) = s.value else { continue }
        if pastAbsolute(h, now: now) {
            dropSession(c, shard, key: key, setKey: setKey, now: now, &notes)
            continue
        }
        live.append(LiveSession(key: key, createdAt: h.integerField(SessionField.createdAt) ?? 0, hash: h))
    }
    live.sort { a, b in a.createdAt != b.createdAt ? a.createdAt < b.createdAt : a.key.bytes.lexicographicallyPrecedes(b.key.bytes) }
    return live
}

/// Revokes the user's oldest sessions (by createdAt) until at most `limit` remain, never `keep`.
private func enforceMaxDevices(_ c: Client, _ shard: Shard, userId: UnsafeRawBufferPointer, setKey: Key, keep: Key,
                               limit: Int, now: Int64, _ notes: inout PendingNotifications) {
    let live = liveSessions(c, shard, userId: userId, setKey: setKey, now: now, &notes)
    var excess = live.count - limit
    for s in live where excess > 0 && s.key != keep {
        dropSession(c, shard, key: s.key, setKey: setKey, now: now, &notes)
        excess -= 1
    }
}

// MARK: - SESSION.VALIDATE

private enum ValidateOutcome { case valid, missing, wrongType, expired }

/// SESSION.VALIDATE <token> [TOUCH]: the hot path. One lock, one hash probe; with TOUCH the
/// hash's lastActivity and the key's TTL change in place, in the same step as the read. The
/// reply is written after the lock is released, from a reference to the (immutable) hash
/// value: shorter lock hold, and no reply writing inside the table access (where every buffer
/// access would pay a run-time exclusivity check against the open one).
func sessionValidate(_ c: Client, _ args: Arguments) {
    var touch = false
    if args.count == 3 {
        guard args.matches(2, "touch") else { c.reply.error(RedisError.syntax); return }
        touch = true
    } else if args.count > 3 {
        c.reply.error(RedisError.syntax)
        return
    }
    // A malformed token is an unknown session: the same nil, nothing to probe for.
    guard let keyBytes = SessionID.key(fromToken: args[1]) else { c.miss(); c.reply.null(); return }
    let key = Key(keyBytes)
    let now = c.now
    let defaultIdle = Int64(c.server.sessionDefaults.idleSeconds.load(ordering: .relaxed))
    let db = c.db
    let (outcome, session, deadline): (ValidateOutcome, HashValue?, Int64) = keyBytes.withUnsafeBytes { k in
        c.keyspace.withShard(k) { shard in
            let result: (ValidateOutcome, HashValue?, Int64) = shard.mutate(db, key, now: now) { slot in
                guard slot != nil else { return (.missing, nil, 0) }
                // Judged in a closure so no second reference to the hash outlives it: the take
                // below then updates the hash in place instead of copying it.
                let (state, absoluteAt): (ValidateOutcome, Int64) = {
                    guard case .hash(let current) = slot!.value else { return (.wrongType, 0) }
                    guard let at = current.integerField(SessionField.absoluteExpiry), at == 0 || now < at else { return (.expired, 0) }
                    return (.valid, at)
                }()
                if state == .wrongType { return (.wrongType, nil, 0) }
                if state == .expired {
                    slot = nil
                    return (.expired, nil, 0)
                }
                guard touch else {
                    guard case .hash(let current) = slot!.value else { return (.wrongType, nil, 0) }
                    return (.valid, current, 0)
                }
                var h = slot!.takeHash()!
                h.setField(SessionField.lastActivity, integer: now)
                let idle = h.integerField(SessionField.idleTimeout).flatMap { $0 > 0 ? $0 : nil } ?? defaultIdle
                let at = sessionDeadline(now: now, idleSeconds: idle, absoluteAt: absoluteAt)
                slot!.value = .hash(h)
                slot!.expireAt = at
                shard.scheduleExpiry(db, key, &slot!)
                return (.valid, h, at)
            }
            if result.0 == .expired, let parts = SessionID.parts(ofKey: k) {
                let setKey = Key(SessionID.userSetKey(UnsafeRawBufferPointer(rebasing: k[parts.userId])))
                if shard.removeSessionMember(db, setKey: setKey, member: k) {
                    setKey.bytes.withUnsafeBytes { c.notify(.set, "srem", $0) }
                }
            }
            return result
        }
    }
    switch outcome {
    case .valid:
        c.hit()
        c.output.appendHashReply(session!, resp3: c.resp3)
        if touch {
            keyBytes.withUnsafeBytes { k in
                c.notify(.hash, "hset", k)
                if deadline > 0 { c.notify(.generic, "expire", k) }
            }
        }
    case .missing:
        c.miss()
        c.reply.null()
    case .expired:
        c.miss()
        c.reply.null()
        keyBytes.withUnsafeBytes { c.notify(.generic, "del", $0) }
    case .wrongType:
        c.reply.error(RedisError.wrongType)
    }
}

// MARK: - SESSION.ROTATE

/// SESSION.ROTATE <token>: the same session under a new ID, the old key gone in the same step
/// (session fixation defence). createdAt, absoluteExpiry and the TTL carry over: rotating never
/// extends a session's life.
func sessionRotate(_ c: Client, _ args: Arguments) {
    guard let keyBytes = SessionID.key(fromToken: args[1]) else { c.reply.null(); return }
    let oldKey = Key(keyBytes)
    let now = c.now
    var notes = PendingNotifications(c)
    enum Outcome { case rotated([UInt8]), missing, wrongType, replied }
    let outcome: Outcome = keyBytes.withUnsafeBytes { k in
        let parts = SessionID.parts(ofKey: k)!
        let userId = UnsafeRawBufferPointer(rebasing: k[parts.userId])
        let setKey = Key(SessionID.userSetKey(userId))
        return c.keyspace.withShard(k) { shard -> Outcome in
            guard let e = shard.lookup(c.db, oldKey, now: now) else { return .missing }
            guard case .hash(var h) = e.value else { return .wrongType }
            guard userSetUsable(c, shard, setKey, now: now) else { return .replied }
            if pastAbsolute(h, now: now) {
                dropSession(c, shard, key: oldKey, setKey: setKey, now: now, &notes)
                return .missing
            }
            let id = SessionID.generate()
            id.withUnsafeBytes { h.setField(SessionField.sessionId, $0) }
            let newKey = id.withUnsafeBytes { Key(SessionID.sessionKey(userId, $0)) }
            dropSession(c, shard, key: oldKey, setKey: setKey, now: now, &notes)
            shard.mutate(c.db, newKey, now: now) { slot in
                shard.overwrite(c.db, newKey, &slot, with: Entry(value: .hash(h), expireAt: e.expireAt))
            }
            notes.add(.hash, "hset", newKey)
            if e.expireAt != 0 { notes.add(.generic, "expire", newKey) }
            addMember(c, shard, setKey: setKey, member: newKey, now: now, &notes)
            return .rotated(id.withUnsafeBytes { SessionID.token(userId: userId, id: $0) })
        }
    }
    switch outcome {
    case .rotated(let token): c.reply.bulk(token)
    case .missing: c.reply.null()
    case .wrongType: c.reply.error(RedisError.wrongType)
    case .replied: break
    }
    notes.send(c)
}

// MARK: - SESSION.REVOKE / REVOKEALL / LIST

/// SESSION.REVOKE <token>: 1 when a live session was deleted, else 0.
func sessionRevoke(_ c: Client, _ args: Arguments) {
    guard let keyBytes = SessionID.key(fromToken: args[1]) else { c.reply.integer(0); return }
    let key = Key(keyBytes)
    let now = c.now
    var notes = PendingNotifications(c)
    let revoked: Bool = keyBytes.withUnsafeBytes { k in
        let parts = SessionID.parts(ofKey: k)!
        let setKey = Key(SessionID.userSetKey(UnsafeRawBufferPointer(rebasing: k[parts.userId])))
        return c.keyspace.withShard(k) { shard in
            dropSession(c, shard, key: key, setKey: setKey, now: now, &notes)
        }
    }
    c.reply.integer(revoked ? 1 : 0)
    notes.send(c)
}

/// SESSION.REVOKEALL <userId>: log out everywhere. Deletes every session in the user's set and
/// the set; replies how many live sessions were deleted.
func sessionRevokeAll(_ c: Client, _ args: Arguments) {
    let userId = args[1]
    guard SessionID.isValidUserId(userId) else { c.reply.integer(0); return }
    let setKey = Key(SessionID.userSetKey(userId))
    let now = c.now
    var notes = PendingNotifications(c)
    let count: Int? = c.keyspace.withShard(userId) { shard in
        guard let e = shard.lookup(c.db, setKey, now: now) else { return 0 }
        guard case .set(let members) = e.value else { return nil }
        var keys: [Key] = []
        members.forEach { m in
            guard let parts = SessionID.parts(ofKey: m), rawEqual(UnsafeRawBufferPointer(rebasing: m[parts.userId]), userId) else { return }
            keys.append(Key(m))
        }
        var n = 0
        for key in keys where shard.remove(c.db, key, now: now) {
            n += 1
            notes.add(.generic, "del", key)
        }
        if shard.remove(c.db, setKey, now: now) { notes.add(.generic, "del", setKey) }
        return n
    }
    guard let count else { c.reply.error(RedisError.wrongType); return }
    c.reply.integer(count)
    notes.send(c)
}

/// SESSION.LIST <userId>: the user's live sessions, oldest first, each a map of id (the token),
/// createdAt, lastActivity, ipAddress, userAgent (null when the session has no such field).
/// Dead members are pruned from the set on the way.
func sessionList(_ c: Client, _ args: Arguments) {
    let userId = args[1]
    guard SessionID.isValidUserId(userId) else { c.reply.arrayHeader(0); return }
    let setKey = Key(SessionID.userSetKey(userId))
    let now = c.now
    var notes = PendingNotifications(c)
    c.keyspace.withShard(userId) { shard in
        guard userSetUsable(c, shard, setKey, now: now) else { return }
        let live = liveSessions(c, shard, userId: userId, setKey: setKey, now: now, &notes)
        c.reply.arrayHeader(live.count)
        for s in live {
            c.reply.mapHeader(5)
            c.reply.bulk("id")
            s.key.bytes.withUnsafeBytes { k in
                let parts = SessionID.parts(ofKey: k)!
                c.reply.bulk(SessionID.token(userId: userId, id: UnsafeRawBufferPointer(rebasing: k[parts.id])))
            }
            for f in [SessionField.createdAt, SessionField.lastActivity, SessionField.ipAddress, SessionField.userAgent] {
                c.reply.bulk(f)
                raw(f) { name in s.hash.withValue(name, scratch: c.lookupScratch) { v in if let v { c.reply.bulk(v) } else { c.reply.null() } } }
            }
        }
    }
    notes.send(c)
}
