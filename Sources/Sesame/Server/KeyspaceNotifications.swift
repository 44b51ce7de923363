// Keyspace notifications (Redis notify.c): with `notify-keyspace-events` set, changes to keys
// are published to `__keyspace@<db>__:<key>` (message: the event) and/or
// `__keyevent@<db>__:<event>` (message: the key). Off by default; when off, the cost on the
// write path is one relaxed atomic load.

import Synchronization

public struct NotifyClass: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let keyspace = NotifyClass(rawValue: 1 << 0)  // K
    public static let keyevent = NotifyClass(rawValue: 1 << 1)  // E
    public static let generic = NotifyClass(rawValue: 1 << 2)   // g
    public static let string = NotifyClass(rawValue: 1 << 3)    // $
    public static let list = NotifyClass(rawValue: 1 << 4)      // l
    public static let set = NotifyClass(rawValue: 1 << 5)       // s
    public static let hash = NotifyClass(rawValue: 1 << 6)      // h
    public static let zset = NotifyClass(rawValue: 1 << 7)      // z
    public static let expired = NotifyClass(rawValue: 1 << 8)   // x
    public static let evicted = NotifyClass(rawValue: 1 << 9)   // e
    public static let stream = NotifyClass(rawValue: 1 << 10)   // t
    public static let keyMiss = NotifyClass(rawValue: 1 << 11)  // m
    public static let module = NotifyClass(rawValue: 1 << 12)   // d
    public static let newKey = NotifyClass(rawValue: 1 << 13)   // n
    /// 'A': every class but key-miss and new-key, as in Redis.
    public static let all: NotifyClass = [.generic, .string, .list, .set, .hash, .zset, .expired, .evicted, .stream, .module]

    /// Parses Redis's flag string ("KEA", "Ex", ""); nil for an unknown character.
    public init?(flags: String) {
        var c: NotifyClass = []
        for ch in flags {
            switch ch {
            case "A": c.formUnion(.all)
            case "g": c.insert(.generic)
            case "$": c.insert(.string)
            case "l": c.insert(.list)
            case "s": c.insert(.set)
            case "h": c.insert(.hash)
            case "z": c.insert(.zset)
            case "x": c.insert(.expired)
            case "e": c.insert(.evicted)
            case "K": c.insert(.keyspace)
            case "E": c.insert(.keyevent)
            case "t": c.insert(.stream)
            case "m": c.insert(.keyMiss)
            case "d": c.insert(.module)
            case "n": c.insert(.newKey)
            default: return nil
            }
        }
        self = c
    }

    /// Redis's canonical spelling (what CONFIG GET shows).
    public var flagString: String {
        var s = ""
        if isSuperset(of: .all) { s += "A" } else {
            if contains(.generic) { s += "g" }
            if contains(.string) { s += "$" }
            if contains(.list) { s += "l" }
            if contains(.set) { s += "s" }
            if contains(.hash) { s += "h" }
            if contains(.zset) { s += "z" }
            if contains(.expired) { s += "x" }
            if contains(.evicted) { s += "e" }
            if contains(.stream) { s += "t" }
            if contains(.module) { s += "d" }
        }
        // Redis prints 'n' only when 'A' is not set (keyspaceEventsFlagsToString).
        if contains(.newKey) && !isSuperset(of: .all) { s += "n" }
        if contains(.keyspace) { s += "K" }
        if contains(.keyevent) { s += "E" }
        if contains(.keyMiss) { s += "m" }
        return s
    }
}

/// Publishes key events; installed in every shard for expirations.
final class KeyspaceNotifier: KeyEvents, @unchecked Sendable {
    let flags = Atomic<Int>(0)
    let hub: PubSubHub

    init(hub: PubSubHub) { self.hub = hub }

    @inline(__always) var active: Bool { flags.load(ordering: .relaxed) != 0 }

    func notify(_ cls: NotifyClass, event: String, key: [UInt8], db: Int) {
        let f = NotifyClass(rawValue: flags.load(ordering: .relaxed))
        guard f.contains(cls) else { return }
        if f.contains(.keyspace) {
            hub.publish(Array("__keyspace@\(db)__:".utf8) + key, Array(event.utf8))
        }
        if f.contains(.keyevent) {
            hub.publish(Array("__keyevent@\(db)__:\(event)".utf8), key)
        }
    }

    var wantsExpirations: Bool { active }

    func keyExpired(db: Int, key: Key) {
        guard active else { return }
        notify(.expired, event: "expired", key: key.bytes, db: db)
    }

    func keyChanged(db: Int, key: Key, class cls: NotifyClass, event: String) {
        guard active else { return }
        notify(cls, event: event, key: key.bytes, db: db)
    }
}

extension ServerState {
    /// Sets `notify-keyspace-events`; false when the flag string is invalid.
    public func setNotifyKeyspaceEvents(_ flags: String) -> Bool {
        guard let c = NotifyClass(flags: flags) else { return false }
        // Without K or E nothing is published, as in Redis.
        let effective = c.contains(.keyspace) || c.contains(.keyevent) ? c : []
        notifier.flags.store(effective.rawValue, ordering: .relaxed)
        notifyFlagsText.withLock { $0 = c.flagString }
        return true
    }

    public var notifyKeyspaceEvents: String { notifyFlagsText.withLock { $0 } }
}

extension Client {
    /// Reports a change to keyspace-notification subscribers (a no-op unless enabled).
    @inline(__always)
    public func notify(_ cls: NotifyClass, _ event: String, _ key: UnsafeRawBufferPointer) {
        let ref = server.notifierRef
        guard ref._withUnsafeGuaranteedRef({ $0.active }) else { return }
        ref._withUnsafeGuaranteedRef { $0.notify(cls, event: event, key: Array(key), db: db) }
    }
}
