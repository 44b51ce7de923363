import Synchronization

// The session data model the `session` and `load` workloads write, as a web session store
// would keep it in Redis:
//
//   sess:{userId}:<id>     hash   sessionId, userId, createdAt, lastActivity, absoluteExpiry,
//                                 ipAddress, userAgent (a real 100+ byte browser string),
//                                 [state: --state-bytes of app state]; EXPIRE = idle TTL (1800 s)
//   user_sessions:{userId} set    the keys of the user's sessions (for "list devices")
//
// <id> is 20 bytes from the OS CSPRNG, base64url: 27 characters. `{userId}` is a Redis Cluster
// hash tag, so a session and its user's index share a slot (and a shard in Sesame).
//
// `SessionTable` is the client's record of which sessions exist, so validations hit live
// sessions and logouts remove real ones. Each user has a fixed number of slots (devices); it is
// shared by all worker threads and lock-striped by user.

public enum SessionModel {
    public static let userAgents: [[UInt8]] = [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0 (compatible; corporate-desktop build 2024.05)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
    ].map { Array($0.utf8) }

    /// Bytes of field names and values in one session hash (for "memory per payload byte").
    public static func payloadBytes(stateBytes: Int) -> Int {
        let names = "sessionIduserIdcreatedAtlastActivityabsoluteExpiryipAddressuserAgent".utf8.count + (stateBytes > 0 ? 5 : 0)
        let values = 27 + 6 + 13 + 13 + 13 + 12 + userAgents.map(\.count).reduce(0, +) / userAgents.count + stateBytes
        return names + values
    }

    /// A plausible client IPv4 address for a user (stable per user).
    @inline(__always)
    static func ipAddress(user: Int) -> UInt32 {
        let h = UInt32(truncatingIfNeeded: UInt64(user) &* 0x9E37_79B9_7F4A_7C15 >> 32)
        return (UInt32(100 + h % 100) << 24) | (h & 0x00FF_FFFF) | 1
    }

    /// Encodes the HSET of a full session hash. Returns the argument count it wrote.
    @inline(__always)
    static func encodeCreate(into b: inout CommandBuffer, user: Int, id: UnsafeRawBufferPointer, nowMillis: Int,
                             absoluteLifetimeMillis: Int, state: UnsafeRawBufferPointer?) {
        b.begin(2 + 14 + (state == nil ? 0 : 2))
        b.arg("HSET")
        b.arg("sess:{", user, "}:", id)
        b.arg("sessionId"); b.arg(id)
        b.arg("userId"); b.arg(user)
        b.arg("createdAt"); b.arg(nowMillis)
        b.arg("lastActivity"); b.arg(nowMillis)
        b.arg("absoluteExpiry"); b.arg(nowMillis + absoluteLifetimeMillis)
        b.arg("ipAddress"); b.argIPv4(ipAddress(user: user))
        b.arg("userAgent")
        userAgents[user % userAgents.count].withUnsafeBytes { b.arg($0) }
        if let state { b.arg("state"); b.arg(state) }
    }
}

/// The client's view of which sessions exist: `users` x `slotsPerUser` ids.
public final class SessionTable: Sendable {
    public let users: Int
    public let slotsPerUser: Int
    private let stripes: [Stripe]

    final class Stripe: Sendable {
        let state: Mutex<StripeState>
        init(slots: Int) { state = Mutex(StripeState(ids: [UInt8](repeating: 0, count: slots * 27), live: [Bool](repeating: false, count: slots))) }
    }

    struct StripeState: Sendable {
        var ids: [UInt8]
        var live: [Bool]
        var liveCount = 0
    }

    public init(users: Int, slotsPerUser: Int, stripes: Int = 64) {
        self.users = max(1, users)
        self.slotsPerUser = max(1, slotsPerUser)
        let stripeCount = max(1, min(stripes, self.users))
        let usersPerStripe = (self.users + stripeCount - 1) / stripeCount
        self.stripes = (0..<stripeCount).map { _ in Stripe(slots: usersPerStripe * max(1, slotsPerUser)) }
    }

    @inline(__always)
    private func locate(_ user: Int, _ slot: Int) -> (Stripe, Int) {
        (stripes[user % stripes.count], (user / stripes.count) * slotsPerUser + slot)
    }

    public var liveSessions: Int { stripes.reduce(0) { $0 + $1.state.withLock { $0.liveCount } } }

    /// Records `id` in (user, slot).
    public func set(user: Int, slot: Int, id: UnsafeRawBufferPointer) {
        let (stripe, index) = locate(user, slot)
        stripe.state.withLock { s in
            for i in 0..<27 { s.ids[index * 27 + i] = id[i] }
            if !s.live[index] { s.live[index] = true; s.liveCount += 1 }
        }
    }

    /// Copies a live session id of `user` into `out` (27 bytes), searching from `startSlot`.
    @inline(__always)
    public func pickLive(user: Int, startSlot: Int, into out: UnsafeMutableRawBufferPointer, remove: Bool = false) -> Bool {
        let (stripe, base) = locate(user, 0)
        let slots = slotsPerUser
        return stripe.state.withLock { s in
            for step in 0..<slots {
                let index = base + (startSlot + step) % slots
                if s.live[index] {
                    for i in 0..<27 { out[i] = s.ids[index * 27 + i] }
                    if remove { s.live[index] = false; s.liveCount -= 1 }
                    return true
                }
            }
            return false
        }
    }

    /// Stores `id` in a free slot of `user`; if all are taken, replaces the slot at `startSlot`
    /// and copies the replaced id into `evicted`. Returns true when a session was evicted.
    @inline(__always)
    public func insert(user: Int, startSlot: Int, id: UnsafeRawBufferPointer, evicted: UnsafeMutableRawBufferPointer) -> Bool {
        let (stripe, base) = locate(user, 0)
        let slots = slotsPerUser
        return stripe.state.withLock { s in
            var target = -1
            for step in 0..<slots where !s.live[base + (startSlot + step) % slots] {
                target = base + (startSlot + step) % slots
                break
            }
            var didEvict = false
            if target < 0 {
                target = base + startSlot % slots
                for i in 0..<27 { evicted[i] = s.ids[target * 27 + i] }
                didEvict = true
            } else {
                s.live[target] = true
                s.liveCount += 1
            }
            for i in 0..<27 { s.ids[target * 27 + i] = id[i] }
            return didEvict
        }
    }
}
