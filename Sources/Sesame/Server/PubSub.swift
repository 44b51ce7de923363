// Pub/Sub across event loops. Subscriptions live in one registry (a mutex: subscribe and
// publish are rare next to key lookups); a message for a subscriber owned by any loop is
// posted to that loop's mailbox and the loop is woken through its eventfd, so a connection's
// output buffer is still only ever touched by its own loop. Keyspace notifications are
// messages published from inside the server (expiry, writes).

import Synchronization

/// Where a subscriber's messages go: its loop, and the connection (fd + tag guard against a
/// reused descriptor).
struct Subscriber: Hashable, Sendable {
    let clientID: Int
    let loop: Int
    let fd: Int32
    let tag: UInt32
    let resp3: Bool
}

/// Messages waiting for one event loop, posted by other threads.
final class Mailbox: Sendable {
    struct Delivery: Sendable {
        let fd: Int32
        let tag: UInt32
        let bytes: [UInt8]
        /// CLIENT KILL: close the connection instead of writing to it.
        var kill = false
    }
    private let pending = Locked<[Delivery]>([])
    let wakeFD = Atomic<Int32>(-1)

    func post(_ d: Delivery) {
        let wasEmpty = pending.withLock { q -> Bool in
            q.append(d)
            return q.count == 1
        }
        let fd = wakeFD.load(ordering: .acquiring)
        if wasEmpty && fd >= 0 { Sys.signalEventFD(fd) }
    }

    func take() -> [Delivery] {
        pending.withLock { q in
            if q.isEmpty { return [] }
            let all = q
            q = []
            return all
        }
    }
}

public final class PubSubHub: @unchecked Sendable {
    private let lock = ShardLock()
    private var channels: [Key: Set<Subscriber>] = [:]
    private var patterns: [Key: Set<Subscriber>] = [:]
    let mailboxes: [Mailbox]

    init(loops: Int) {
        mailboxes = (0..<max(1, loops)).map { _ in Mailbox() }
    }

    func subscribe(_ channel: Key, _ s: Subscriber, pattern: Bool) {
        lock.withLock {
            if pattern { patterns[channel, default: []].insert(s) } else { channels[channel, default: []].insert(s) }
        }
    }

    func unsubscribe(_ channel: Key, _ s: Subscriber, pattern: Bool) {
        lock.withLock {
            if pattern {
                patterns[channel]?.remove(s)
                if patterns[channel]?.isEmpty == true { patterns.removeValue(forKey: channel) }
            } else {
                channels[channel]?.remove(s)
                if channels[channel]?.isEmpty == true { channels.removeValue(forKey: channel) }
            }
        }
    }

    /// Delivers to channel and pattern subscribers; returns how many received it.
    @discardableResult
    public func publish(_ channel: [UInt8], _ message: [UInt8]) -> Int {
        lock.withLock {
            var receivers = 0
            if let subs = channels[Key(channel)] {
                for s in subs {
                    deliver(s, PubSubHub.frame(s.resp3, "message", [channel, message]))
                    receivers += 1
                }
            }
            for (pattern, subs) in patterns where globMatch(pattern.bytes, channel) {
                for s in subs {
                    deliver(s, PubSubHub.frame(s.resp3, "pmessage", [pattern.bytes, channel, message]))
                    receivers += 1
                }
            }
            return receivers
        }
    }

    public var hasSubscribers: Bool { lock.withLock { !channels.isEmpty || !patterns.isEmpty } }

    func activeChannels(matching pattern: [UInt8]?) -> [[UInt8]] {
        lock.withLock { channels.keys.map(\.bytes).filter { pattern == nil || globMatch(pattern!, $0) } }
    }

    func subscriberCount(_ channel: [UInt8]) -> Int { lock.withLock { channels[Key(channel)]?.count ?? 0 } }

    var patternCount: Int { lock.withLock { patterns.count } }
    var channelCount: Int { lock.withLock { channels.count } }

    private func deliver(_ s: Subscriber, _ bytes: [UInt8]) {
        guard s.fd >= 0, s.loop < mailboxes.count else { return }
        mailboxes[s.loop].post(.init(fd: s.fd, tag: s.tag, bytes: bytes))
    }

    /// A push message: `>n` in RESP3, an array in RESP2; the first part is the kind.
    static func frame(_ resp3: Bool, _ kind: String, _ rest: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = Array("\(resp3 ? ">" : "*")\(rest.count + 1)\r\n$\(kind.utf8.count)\r\n\(kind)\r\n".utf8)
        for p in rest {
            out += Array("$\(p.count)\r\n".utf8) + p + [13, 10]
        }
        return out
    }
}
