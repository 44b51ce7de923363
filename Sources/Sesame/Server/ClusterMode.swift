// Cluster compatibility. Sesame never shards across machines itself: when a session store
// outgrows one machine, the answer is Redis (or Valkey) Cluster. What Sesame offers is a way
// to make that move a non-event:
//
// - `cluster-enabled yes`: Sesame presents itself as a one-node cluster owning all 16384 slots,
//   so cluster-mode clients (redis-py RedisCluster, node-redis createCluster) connect to it
//   unchanged, and every request a cluster would refuse (keys in several slots, SELECT of
//   another database) is refused with Redis Cluster's error text.
// - `cluster-check yes`: the same refusals on a standalone server (CONFIG SET-able), so a test
//   suite running against Sesame catches code that would break on Redis Cluster.
//
// The slot check sits in the dispatcher behind one relaxed atomic load; commands with a single
// key position never compute a slot (a one-node cluster owns every slot).

import Synchronization

public final class ClusterState: Sendable {
    /// `cluster-enabled`: fixed at start, as in Redis.
    public let enabled: Bool
    /// This node's id: 40 hex characters from the OS CSPRNG, as Redis's node ids.
    public let nodeID: String
    /// `cluster-announce-ip`: the address CLUSTER SLOTS / SHARDS / NODES report; nil = the
    /// local address of the asking connection (the one the client evidently can reach).
    public let announceIP: String?
    /// `cluster-check` as configured (CONFIG GET reports it even when `enabled` forces checks).
    private let checkRequested: Atomic<Bool>
    /// enabled || cluster-check: read once per command by the dispatcher.
    let checksSlots: Atomic<Bool>

    public init(enabled: Bool, check: Bool, announceIP: String?) {
        self.enabled = enabled
        self.nodeID = randomHex(20)
        self.announceIP = announceIP
        checkRequested = Atomic(check)
        checksSlots = Atomic(enabled || check)
    }

    public var checkEnabled: Bool { checkRequested.load(ordering: .relaxed) }

    /// CONFIG SET cluster-check: turning it off never disables the checks of a cluster node.
    public func setCheck(_ on: Bool) {
        checkRequested.store(on, ordering: .relaxed)
        checksSlots.store(enabled || on, ordering: .relaxed)
    }

    /// Whether a request must stay in database 0 (SELECT, MOVE, SWAPDB, COPY ... DB n).
    public var refusesOtherDatabases: Bool { checksSlots.load(ordering: .relaxed) }
}

enum ClusterError {
    static let crossSlot: StaticString = "CROSSSLOT Keys in request don't hash to the same slot"
    static let disabled: StaticString = "ERR This instance has cluster support disabled"
    static let selectNotAllowed: StaticString = "ERR SELECT is not allowed in cluster mode"
    static let copyToOtherDB: StaticString = "ERR Copying to another database is not allowed in cluster mode"
}

/// Redis's getNodeByQuery, reduced to what a node owning every slot can answer: does a request
/// name keys in more than one slot. A transaction is checked per command as it is queued and
/// across all queued commands at EXEC, as Redis does.
enum ClusterSlotCheck {
    /// No hash slot seen yet.
    static let none = -1

    /// Replies CROSSSLOT and returns false when `args` must be refused. Inside MULTI a refused
    /// command marks the transaction failed (EXECABORT); a refused EXEC discards it.
    @inline(__always)
    static func admit(_ c: Client, _ spec: CommandSpec, _ args: Arguments) -> Bool {
        if spec.firstKey != 0 && spec.lastKey == spec.firstKey { return true }
        if spec.firstKey == 0 && spec.name != "exec" && spec.name != "sintercard" { return true }
        return admitSlow(c, spec, args)
    }

    @inline(never)
    static func admitSlow(_ c: Client, _ spec: CommandSpec, _ args: Arguments) -> Bool {
        if spec.name == "exec" {
            // A transaction already failed to queue answers EXECABORT, not CROSSSLOT (as Redis).
            guard let multi = c.multi, !multi.failed else { return true }
            var slot = none
            for command in multi.queued {
                let ok = command.withArguments { queued -> Bool in
                    guard let s = c.server.commands.lookup(queued[0]) else { return true }
                    return sameSlot(s, queued, &slot)
                }
                if !ok {
                    c.multi = nil
                    c.unwatchAll()
                    c.reply.error(ClusterError.crossSlot)
                    return false
                }
            }
            return true
        }
        var slot = none
        if sameSlot(spec, args, &slot) { return true }
        c.failMulti()
        c.reply.error(ClusterError.crossSlot)
        return false
    }

    /// Folds the slots of the command's keys into `slot`; false as soon as two differ.
    static func sameSlot(_ spec: CommandSpec, _ args: Arguments, _ slot: inout Int) -> Bool {
        var ok = true
        forEachKey(spec, args) { i in
            let s = HashSlot.of(args[i])
            if slot == none { slot = s } else if slot != s { ok = false; return false }
            return true
        }
        return ok
    }

    /// Calls `body` with the index of each key argument until it returns false: the spec's
    /// (first, last, step) positions, and SINTERCARD's counted keys.
    static func forEachKey(_ spec: CommandSpec, _ args: Arguments, _ body: (Int) -> Bool) {
        let argc = args.count
        if spec.name == "sintercard" {
            guard argc >= 2, let n = args.int64(1), n > 0, n <= Int64(argc - 2) else { return }
            for i in 0..<Int(n) where !body(2 + i) { return }
            return
        }
        guard spec.firstKey > 0 else { return }
        let last = spec.lastKey < 0 ? argc + spec.lastKey : min(spec.lastKey, argc - 1)
        let step = max(spec.keyStep, 1)
        var i = spec.firstKey
        while i <= last && i < argc {
            if !body(i) { return }
            i += step
        }
    }
}
