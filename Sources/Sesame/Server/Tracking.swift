// Server-assisted client-side caching (Redis 6+ CLIENT TRACKING, tracking.c). A client that
// turns tracking on is told, by an `invalidate` push (RESP3) or a message on
// `__redis__:invalidate` sent to the client it redirects to (RESP2), when a key it may have
// cached changes. Two modes:
//
// - Default: the keys a tracking client reads (readonly commands, from the command table's key
//   positions) are remembered. Each shard keeps its own table `key -> clients` (Shard.tracked),
//   guarded by the shard lock, so remembering a key and invalidating it never contend across
//   shards, and invalidation happens under the very lock the write holds. The entry is dropped
//   when the key changes (one message per change, as in Redis: the client must read again to
//   be told again).
// - BCAST: a client subscribes to key prefixes and hears about every change under them.
//
// Every change reaches `keyChanged` from Shard's central paths (mutate, remove, lazy and active
// expiry, eviction) and `flushed` from Keyspace.flush, so later commands get invalidation for
// free. When no client tracks, the write path pays one relaxed atomic load (`active`).
//
// Messages are posted to the target's event loop mailbox (PubSub.swift), so they always follow
// the reply of the command that is running on that client's loop, as Redis's pending-key queue
// arranges for a client invalidating its own keys.
//
// Keys are remembered before the read runs, not after: a write landing between the read and
// the remembering would otherwise be missed and leave a stale cached value forever. A write
// landing between the remembering and the read costs one spurious invalidation instead.

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

struct TrackingFlags: OptionSet, Sendable {
    let rawValue: UInt32
    static let on = TrackingFlags(rawValue: 1 << 0)
    static let bcast = TrackingFlags(rawValue: 1 << 1)
    static let optIn = TrackingFlags(rawValue: 1 << 2)
    static let optOut = TrackingFlags(rawValue: 1 << 3)
    static let noLoop = TrackingFlags(rawValue: 1 << 4)
    static let brokenRedirect = TrackingFlags(rawValue: 1 << 5)
}

/// One connection's tracking state. The tables of other threads hold references to it and read
/// the atomics when a key changes; the rest is only touched by the owning loop.
public final class TrackingClient: @unchecked Sendable {
    let clientID: Int
    let loop: Int
    let fd: Int32
    let tag: UInt32
    let flags = Atomic<UInt32>(0)
    /// Client ID invalidations are redirected to; 0 = this connection.
    let redirect = Atomic<Int>(0)
    let resp3 = Atomic<Bool>(false)
    // Owner-only state below.
    /// CLIENT CACHING yes (OPTIN) / no (OPTOUT) given for the next command.
    var caching = false
    /// Inside EXEC: the CACHING flag covers the whole transaction.
    var inExec = false
    /// BCAST prefixes, in the order given.
    var prefixes: [[UInt8]] = []
    /// Invalidations of keys this client wrote itself, held until its command has replied
    /// (Dispatcher.executeTracked appends them after the reply, in the same write).
    var ownPending: [UInt8] = []

    init(clientID: Int, loop: Int, fd: Int32, tag: UInt32) {
        self.clientID = clientID
        self.loop = loop
        self.fd = fd
        self.tag = tag
    }

    var currentFlags: TrackingFlags { TrackingFlags(rawValue: flags.load(ordering: .relaxed)) }
}

/// The writer of the command running on this thread, for NOLOOP (0 outside commands: active
/// expiry and eviction run on loop threads between commands). A thread-local because the shard
/// paths that report changes do not know which client called them.
private let writerKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

public final class Tracking: @unchecked Sendable {
    /// Connections with tracking on: the write path's gate.
    let active = Atomic<Int>(0)
    /// Remembered (key, client) pairs and distinct keys over all shards (INFO).
    let totalItems = Atomic<Int>(0)
    let totalKeys = Atomic<Int>(0)
    /// tracking-table-max-keys: past it, remembered keys are invalidated to make room (0 = none).
    let maxKeys = Atomic<Int>(1_000_000)
    /// BCAST prefix -> subscribed clients; `prefixCount` keeps the lookup off the write path
    /// when nobody broadcasts.
    private let prefixes = Locked<[[UInt8]: [TrackingClient]]>([:])
    let prefixCount = Atomic<Int>(0)
    /// Every connection with tracking on, for FLUSHALL's null invalidation.
    private let tracking = Locked<[Int: TrackingClient]>([:])
    private let mailboxes: [Mailbox]
    private let clients: ClientRegistry
    /// Where the next make-room pass starts, so it does not always empty shard 0.
    private let evictionHand = Atomic<Int>(0)

    init(mailboxes: [Mailbox], clients: ClientRegistry) {
        self.mailboxes = mailboxes
        self.clients = clients
    }

    // MARK: - Writer identity (NOLOOP)

    @inline(__always) static func setWriter(_ id: Int) {
        pthread_setspecific(writerKey, UnsafeRawPointer(bitPattern: id))
    }

    static var writer: Int { Int(bitPattern: pthread_getspecific(writerKey)) }

    // MARK: - Enabling

    /// CLIENT TRACKING on: `options` already validated against the client's current state.
    func enable(_ t: TrackingClient, options: TrackingFlags, redirect: Int, prefixes newPrefixes: [[UInt8]], resp3: Bool) {
        let old = t.currentFlags
        if !old.contains(.on) {
            active.wrappingAdd(1, ordering: .relaxed)
            tracking.withLock { $0[t.clientID] = t }
        }
        t.redirect.store(redirect, ordering: .relaxed)
        t.resp3.store(resp3, ordering: .relaxed)
        var flags: TrackingFlags = [.on]
        flags.formUnion(options.intersection([.bcast, .optIn, .optOut, .noLoop]))
        t.flags.store(flags.rawValue, ordering: .relaxed)
        if options.contains(.bcast) {
            let added = newPrefixes.isEmpty ? [[]] : newPrefixes
            prefixes.withLock { table in
                for p in added where !t.prefixes.contains(p) {
                    t.prefixes.append(p)
                    table[p, default: []].append(t)
                }
                prefixCount.store(table.count, ordering: .relaxed)
            }
        }
    }

    /// CLIENT TRACKING off, RESET, and connection close. Keys this client read stay remembered
    /// until they change (as in Redis); by then the flags say not to send.
    func disable(_ t: TrackingClient) {
        let old = t.currentFlags
        guard old.contains(.on) else { return }
        if !t.prefixes.isEmpty {
            prefixes.withLock { table in
                for p in t.prefixes {
                    table[p]?.removeAll { $0 === t }
                    if table[p]?.isEmpty == true { table.removeValue(forKey: p) }
                }
                prefixCount.store(table.count, ordering: .relaxed)
            }
            t.prefixes = []
        }
        t.flags.store(0, ordering: .relaxed)
        t.caching = false
        tracking.withLock { _ = $0.removeValue(forKey: t.clientID) }
        active.subtract(1, ordering: .relaxed)
    }

    // MARK: - Remembering keys (default mode)

    /// Records that `t` may cache `key` (caller holds the key's shard lock).
    func remember(_ shard: Shard, _ key: UnsafeRawBufferPointer, _ t: TrackingClient) {
        let k = Key(key)
        let added: (item: Bool, key: Bool) = Shard.withTrackedSlot(&shard.tracked[k]) { slot in
            if slot == nil {
                slot = [t]
                return (true, true)
            }
            if slot!.contains(where: { $0 === t }) { return (false, false) }
            slot!.append(t)
            return (true, false)
        }
        if added.item { totalItems.wrappingAdd(1, ordering: .relaxed) }
        if added.key { totalKeys.wrappingAdd(1, ordering: .relaxed) }
    }

    /// Invalidates remembered keys until the table is within tracking-table-max-keys (Redis's
    /// trackingLimitUsedSlots: the clients are told as if the keys had changed).
    func makeRoom(_ keyspace: Keyspace) {
        let limit = maxKeys.load(ordering: .relaxed)
        guard limit > 0, totalKeys.load(ordering: .relaxed) > limit else { return }
        let shards = keyspace.shards
        let start = evictionHand.wrappingAdd(1, ordering: .relaxed).oldValue
        for i in 0..<shards.count where totalKeys.load(ordering: .relaxed) > limit {
            let shard = shards[(start + i) % shards.count]
            shard.lock.withLock {
                while totalKeys.load(ordering: .relaxed) > limit, let k = shard.tracked.keys.first {
                    invalidateRemembered(shard, k, writer: 0)
                }
            }
        }
    }

    // MARK: - Invalidation

    /// A key changed (caller holds its shard lock and has checked `active`).
    func keyChanged(_ shard: Shard, _ key: Key) {
        let writer = Tracking.writer
        if !shard.tracked.isEmpty { invalidateRemembered(shard, key, writer: writer) }
        if prefixCount.load(ordering: .relaxed) > 0 { broadcast(key, writer: writer) }
    }

    private func invalidateRemembered(_ shard: Shard, _ key: Key, writer: Int) {
        guard let holders = shard.tracked.removeValue(forKey: key) else { return }
        totalItems.subtract(holders.count, ordering: .relaxed)
        totalKeys.subtract(1, ordering: .relaxed)
        var payload: [UInt8]? = nil
        for t in holders {
            let f = t.currentFlags
            guard f.contains(.on), !f.contains(.bcast) else { continue }
            if f.contains(.noLoop) && t.clientID == writer { continue }
            if payload == nil { payload = Tracking.keysPayload(key.bytes) }
            send(t, payload!)
        }
    }

    private func broadcast(_ key: Key, writer: Int) {
        let bytes = key.bytes
        var payload: [UInt8]? = nil
        prefixes.withLock { table in
            for (prefix, subscribers) in table where bytes.starts(with: prefix) {
                for t in subscribers {
                    let f = t.currentFlags
                    guard f.contains(.on) else { continue }
                    if f.contains(.noLoop) && t.clientID == writer { continue }
                    if payload == nil { payload = Tracking.keysPayload(bytes) }
                    send(t, payload!)
                }
            }
        }
    }

    /// FLUSHDB / FLUSHALL (caller holds every shard lock): every tracking client is sent a null
    /// invalidation (drop the whole cache), and the tables are emptied, as in Redis, whichever
    /// database was flushed.
    func flushed(_ shards: [Shard]) {
        for s in shards where !s.tracked.isEmpty { s.tracked = [:] }
        totalItems.store(0, ordering: .relaxed)
        totalKeys.store(0, ordering: .relaxed)
        guard active.load(ordering: .relaxed) > 0 else { return }
        for t in tracking.withLock({ Array($0.values) }) {
            send(t, t.resp3.load(ordering: .relaxed) ? Array("_\r\n".utf8) : Array("$-1\r\n".utf8))
        }
    }

    /// Sends an invalidation whose value part is `payload` (an array of keys, or a null), to the
    /// client itself in RESP3 or to its redirect target (Redis's sendTrackingMessage).
    private func send(_ t: TrackingClient, _ payload: [UInt8]) {
        let redirect = t.redirect.load(ordering: .relaxed)
        if redirect == 0 {
            guard t.resp3.load(ordering: .relaxed) else { return }  // RESP2 has no pushes
            if t.clientID == Tracking.writer {
                // The writer's own key (this thread runs its command): through the mailbox the
                // push went out in a later write than the reply, so a client that read the
                // reply and then served its next read from its cache could miss it (redis-py's
                // cache did, under load). Redis sends it right after the reply; so do we.
                t.ownPending += Tracking.pushHeader
                t.ownPending += payload
                return
            }
            post(loop: t.loop, fd: t.fd, tag: t.tag, Tracking.pushHeader + payload)
            return
        }
        guard let target = clients.record(id: redirect) else {
            t.flags.bitwiseOr(TrackingFlags.brokenRedirect.rawValue, ordering: .relaxed)
            if t.resp3.load(ordering: .relaxed) {
                post(loop: t.loop, fd: t.fd, tag: t.tag,
                     Array(">2\r\n$21\r\ntracking-redir-broken\r\n:\(redirect)\r\n".utf8))
            }
            return
        }
        let (resp, pubsub) = target.snapshot.withLock { ($0.resp, $0.subscriptions + $0.patterns > 0) }
        if resp == 3 {
            post(loop: target.loop, fd: target.fd, tag: target.tag, Tracking.pushHeader + payload)
        } else if pubsub {
            post(loop: target.loop, fd: target.fd, tag: target.tag, Tracking.messageHeader + payload)
        }
    }

    /// Sends `t` its own-write invalidations through the mailbox (when its reply is being
    /// dropped by CLIENT REPLY OFF / SKIP, the push must not be dropped with it).
    func postOwnPending(_ t: TrackingClient) {
        post(loop: t.loop, fd: t.fd, tag: t.tag, t.ownPending)
    }

    private func post(loop: Int, fd: Int32, tag: UInt32, _ bytes: [UInt8]) {
        guard fd >= 0, loop < mailboxes.count else { return }
        mailboxes[loop].post(.init(fd: fd, tag: tag, bytes: bytes))
    }

    static let pushHeader = Array(">2\r\n$10\r\ninvalidate\r\n".utf8)
    static let messageHeader = Array("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n".utf8)

    static func keysPayload(_ key: [UInt8]) -> [UInt8] {
        Array("*1\r\n$\(key.count)\r\n".utf8) + key + [13, 10]
    }

    // MARK: - Introspection

    var clientCount: Int { active.load(ordering: .relaxed) }
    var prefixTotal: Int { prefixCount.load(ordering: .relaxed) }

    /// Whether `prefix` overlaps one of `existing` (one is a prefix of the other).
    static func overlaps(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.count <= b.count ? b.starts(with: a) : a.starts(with: b)
    }
}

extension Shard {
    @inline(__always)
    static func withTrackedSlot<R>(_ slot: inout [TrackingClient]?, _ body: (inout [TrackingClient]?) -> R) -> R {
        body(&slot)
    }
}
