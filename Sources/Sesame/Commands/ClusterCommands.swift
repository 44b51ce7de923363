// CLUSTER (Redis cluster.c), READONLY, READWRITE, ASKING.
//
// KEYSLOT, COUNTKEYSINSLOT and GETKEYSINSLOT answer on any Sesame (Redis refuses them unless
// cluster-enabled): they let a standalone user see how keys would spread over a cluster. With
// `cluster-enabled yes` the topology subcommands describe one node owning all 16384 slots, in
// Redis 7's reply shapes, which is all a cluster-mode client needs to route to it. The rest
// of CLUSTER (MEET, ADDSLOTS, SETSLOT, FAILOVER, ...) manages a real multi-node cluster and is
// not offered: a one-node Sesame has nothing to meet, move or fail over.

#if canImport(Glibc)
import Glibc
#endif

let clusterCommands: [CommandSpec] = [
    CommandSpec("cluster", arity: -2, flags: [], categories: ["@slow"], handler: clusterCommand),
    CommandSpec("readonly", arity: 1, flags: [.fast, .loading, .stale], categories: ["@fast", "@connection"], handler: clusterConnectionFlag),
    CommandSpec("readwrite", arity: 1, flags: [.fast, .loading, .stale], categories: ["@fast", "@connection"], handler: clusterConnectionFlag),
    CommandSpec("asking", arity: 1, flags: [.fast], categories: ["@fast", "@connection"], handler: clusterConnectionFlag),
]

/// READONLY / READWRITE / ASKING: replica reads and slot migration do not exist on a one-node
/// cluster, so each is accepted and changes nothing (Redis's replies).
func clusterConnectionFlag(_ c: Client, _ args: Arguments) {
    if !c.server.cluster.enabled { c.reply.error(ClusterError.disabled); return }
    c.reply.ok()
}

/// Redis 7's CLUSTER subcommands that manage a multi-node cluster.
private let clusterManagementSubcommands: Set<String> = [
    "addslots", "addslotsrange", "bumpepoch", "count-failure-reports", "delslots", "delslotsrange",
    "failover", "flushslots", "forget", "links", "meet", "replicas", "replicate", "reset", "saveconfig",
    "set-config-epoch", "setslot", "slaves", "myshardid",
]

func clusterCommand(_ c: Client, _ args: Arguments) {
    let always = args.matches(1, "keyslot") || args.matches(1, "countkeysinslot") || args.matches(1, "getkeysinslot")
    let sub = args.count > 1 && args[1].count <= 32 ? args.string(1).lowercased() : ""
    if clusterManagementSubcommands.contains(sub) {
        if c.server.cluster.enabled {
            c.reply.error(string: "ERR CLUSTER \(sub.uppercased()) is not supported: Sesame is a one-node cluster owning every slot")
        } else {
            c.reply.error(ClusterError.disabled)
        }
        return
    }
    // Redis answers unknown subcommands as such even without cluster support.
    let known = always || ["myid", "info", "slots", "shards", "nodes", "help"].contains(sub)
    if !c.server.cluster.enabled && known && !always { c.reply.error(ClusterError.disabled); return }
    Dispatcher.subcommand(c, args, parent: "cluster", [
        ("keyslot", 3, { c, a in c.reply.integer(HashSlot.of(a[2])) }),
        ("countkeysinslot", 3, clusterCountKeysInSlot),
        ("getkeysinslot", 4, clusterGetKeysInSlot),
        ("myid", 2, { c, _ in c.reply.bulk(string: c.server.cluster.nodeID) }),
        ("info", 2, { c, _ in c.reply.verbatim(clusterInfoText) }),
        ("slots", 2, clusterSlots),
        ("shards", 2, clusterShards),
        ("nodes", 2, { c, _ in c.reply.verbatim(clusterNodesLine(c)) }),
        ("help", 2, { c, _ in
            replyHelp(c, ["CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                          "COUNTKEYSINSLOT <slot>",
                          "    Return the number of keys in <slot>.",
                          "GETKEYSINSLOT <slot> <count>",
                          "    Return key names stored by current node in a slot.",
                          "INFO",
                          "    Return information about the cluster.",
                          "KEYSLOT <key>",
                          "    Return the hash slot for <key>.",
                          "MYID",
                          "    Return the node id.",
                          "NODES",
                          "    Return cluster configuration seen by node. Output format:",
                          "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
                          "SLOTS",
                          "    Return information about slots range mappings. Each range is made of:",
                          "    start, end, master and replicas IP addresses, ports and ids",
                          "SHARDS",
                          "    Return information about slot range mappings and the nodes associated with them.",
                          "HELP",
                          "    Prints this help."])
        }),
    ])
}

/// A one-node cluster that owns every slot is always healthy.
private let clusterInfoText = [
    "cluster_state:ok",
    "cluster_slots_assigned:16384",
    "cluster_slots_ok:16384",
    "cluster_slots_pfail:0",
    "cluster_slots_fail:0",
    "cluster_known_nodes:1",
    "cluster_size:1",
    "cluster_current_epoch:0",
    "cluster_my_epoch:0",
    "cluster_stats_messages_sent:0",
    "cluster_stats_messages_received:0",
    "total_cluster_links_buffer_limit_exceeded:0",
].map { $0 + "\r\n" }.joined()

/// Redis's slot argument: an integer (its error text), then a range check.
private func slotArgument(_ c: Client, _ a: Arguments, _ i: Int) -> Int64? {
    guard let v = a.int64(i) else { c.reply.error(RedisError.notInteger); return nil }
    return v
}

private func clusterCountKeysInSlot(_ c: Client, _ a: Arguments) {
    guard let slot = slotArgument(c, a, 2) else { return }
    guard slot >= 0 && slot < Int64(HashSlot.count) else { c.reply.error("ERR Invalid slot"); return }
    var count = 0
    forEachKey(inSlot: Int(slot), c) { _ in count += 1; return true }
    c.reply.integer(count)
}

private func clusterGetKeysInSlot(_ c: Client, _ a: Arguments) {
    guard let slot = slotArgument(c, a, 2), let maxKeys = slotArgument(c, a, 3) else { return }
    guard slot >= 0 && slot < Int64(HashSlot.count) && maxKeys >= 0 else {
        c.reply.error("ERR Invalid slot or number of keys"); return
    }
    var keys: [Key] = []
    if maxKeys > 0 {
        forEachKey(inSlot: Int(slot), c) { k in
            keys.append(k)
            return Int64(keys.count) < maxKeys
        }
    }
    c.reply.arrayHeader(keys.count)
    for k in keys { c.reply.bulk(k.bytes) }
}

/// Visits the live keys of the client's database in `slot` (they all live in one shard, the
/// slot's) under that shard's lock, until `body` returns false.
private func forEachKey(inSlot slot: Int, _ c: Client, _ body: (Key) -> Bool) {
    let ks = c.keyspace
    let shard = ks.shards[slot & (ks.shards.count - 1)]
    let now = c.now
    shard.lock.withLock {
        for (key, entry) in shard.tables[c.db] where !entry.isExpired(now) {
            if key.bytes.withUnsafeBytes({ HashSlot.of($0) }) == slot && !body(key) { return }
        }
    }
}

/// The address clients should use for this node: cluster-announce-ip, else the local address
/// of the connection asking (the one it evidently reached us on).
private func announcedAddress(_ c: Client) -> String {
    if let ip = c.server.cluster.announceIP { return ip }
    guard c.fd >= 0 else { return "127.0.0.1" }
    var storage = sockaddr_storage()
    var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let ok = withUnsafeMutablePointer(to: &storage) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(c.fd, $0, &len) == 0 }
    }
    guard ok else { return "127.0.0.1" }
    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
    let family = Int32(storage.ss_family)
    let converted: Bool = withUnsafePointer(to: &storage) { p in
        if family == AF_INET {
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var addr = sin.pointee.sin_addr
                return inet_ntop(AF_INET, &addr, &text, socklen_t(text.count)) != nil
            }
        } else if family == AF_INET6 {
            return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                var addr = sin6.pointee.sin6_addr
                return inet_ntop(AF_INET6, &addr, &text, socklen_t(text.count)) != nil
            }
        }
        return false
    }
    guard converted else { return "127.0.0.1" }
    return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

private func port(_ c: Client) -> Int { c.server.boundPort.load(ordering: .relaxed) }

/// CLUSTER SLOTS: one range, 0-16383, served by this node with no replicas.
private func clusterSlots(_ c: Client, _ a: Arguments) {
    c.reply.arrayHeader(1)
    c.reply.arrayHeader(3)
    c.reply.integer(0)
    c.reply.integer(HashSlot.count - 1)
    c.reply.arrayHeader(4)
    c.reply.bulk(string: announcedAddress(c))
    c.reply.integer(port(c))
    c.reply.bulk(string: c.server.cluster.nodeID)
    c.reply.mapHeader(0)
}

/// CLUSTER SHARDS: one shard owning 0-16383 whose only node is this primary.
private func clusterShards(_ c: Client, _ a: Arguments) {
    let ip = announcedAddress(c)
    c.reply.arrayHeader(1)
    c.reply.mapHeader(2)
    c.reply.bulk("slots")
    c.reply.arrayHeader(2)
    c.reply.integer(0)
    c.reply.integer(HashSlot.count - 1)
    c.reply.bulk("nodes")
    c.reply.arrayHeader(1)
    c.reply.mapHeader(7)
    c.reply.bulk("id"); c.reply.bulk(string: c.server.cluster.nodeID)
    c.reply.bulk("port"); c.reply.integer(port(c))
    c.reply.bulk("ip"); c.reply.bulk(string: ip)
    c.reply.bulk("endpoint"); c.reply.bulk(string: ip)
    c.reply.bulk("role"); c.reply.bulk("master")
    c.reply.bulk("replication-offset"); c.reply.integer(0)
    c.reply.bulk("health"); c.reply.bulk("online")
}

/// CLUSTER NODES: Redis's line format. The bus port is Redis's default (port + 10000) for
/// parsers that expect one; Sesame runs no cluster bus.
private func clusterNodesLine(_ c: Client) -> String {
    let p = port(c)
    return "\(c.server.cluster.nodeID) \(announcedAddress(c)):\(p)@\(p + 10000) myself,master - 0 0 0 connected 0-16383\n"
}
