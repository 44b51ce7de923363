// Keeps `user_sessions:{<userId>}` free of dead sessions. When a shard deletes a session key
// on its own (timer wheel, lazy expiry, maxmemory eviction), the session's member leaves its
// user's set in the same step: the set shares the key's `{userId}` hash tag, so it lives in
// this shard and the caller already holds the one lock both need. Members are the session
// keys (`sess:{u}:<id>`), as in the seed layout plain clients write with SADD.
//
// Only sessions SESSION.CREATE wrote (their hash has the `idleTimeout` field) are pruned this
// way: a session a plain client wrote keeps Redis's semantics, where an expiring key changes
// no other key and the application removes the member itself.

extension Shard {
    /// Called with the lock held after `key` left the table by expiry or eviction. Costs one
    /// byte compare for keys that are not sessions.
    @inline(__always)
    func sessionKeyGone(_ db: Int, _ key: Key, _ entry: Entry) {
        guard key.bytes.first == UInt8(ascii: "s"), case .hash(let h) = entry.value,
              h.contains(UnsafeRawBufferPointer(start: SessionField.idleTimeout.utf8Start,
                                                count: SessionField.idleTimeout.utf8CodeUnitCount)) else { return }
        key.bytes.withUnsafeBytes { raw in
            guard let parts = SessionID.parts(ofKey: raw) else { return }
            let setKey = Key(SessionID.userSetKey(UnsafeRawBufferPointer(rebasing: raw[parts.userId])))
            removeSessionMember(db, setKey: setKey, member: raw)
        }
    }

    /// Removes `member` from the set at `setKey` (deleting the set when it empties), with the
    /// signals SREM gives: WATCH versions (via mutate) and `srem` / `del` notifications.
    /// Returns true when the member was there.
    @discardableResult
    func removeSessionMember(_ db: Int, setKey: Key, member: UnsafeRawBufferPointer) -> Bool {
        // Look first: mutate bumps WATCH versions even when nothing changes.
        guard case .set(let s)? = tables[db][setKey]?.value, s.contains(member) else { return false }
        var emptied = false
        // `now` 0: the set counts as live here; its own expiry is the wheel's business.
        mutate(db, setKey, now: 0) { slot in
            guard slot != nil, var set = slot!.takeSet() else { return }
            _ = set.remove(member)
            if set.count == 0 { slot = nil; emptied = true } else { slot!.value = .set(set) }
        }
        events?.keyChanged(db: db, key: setKey, class: .set, event: "srem")
        if emptied { events?.keyChanged(db: db, key: setKey, class: .generic, event: "del") }
        return true
    }
}
