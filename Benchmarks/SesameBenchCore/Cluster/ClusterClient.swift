// Blocking, pipelined writes to a cluster (preload and migration): each batch is split by the
// slot of each item's key into one pipeline per node. A batch a node answers with -MOVED is
// re-sent after the slot map is read again (the writes the harness pipelines are idempotent).

/// What preload needs from a connection: RESPClient for one server, ClusterClient for a cluster.
public protocol CommandPipeline: AnyObject {
    /// Encodes `total` items with `encode` (item index, buffer; returns the replies the item
    /// produces) and sends them in pipelined batches; the error count and the first error.
    @discardableResult
    func pipelined(_ total: Int, batch: Int, encode: (Int, inout CommandBuffer) -> Int) throws -> (errors: Int, firstError: String?)
}

extension RESPClient: CommandPipeline {}

public final class ClusterClient: CommandPipeline {
    public private(set) var topology: ClusterTopology
    private let seeds: [ServerTarget]
    private let timeoutMillis: Int32
    private var clients: [Int: RESPClient] = [:]
    /// Items written per node (by index in `topology.nodes`).
    public private(set) var itemsPerNode: [Int] = []

    public init(seeds: [ServerTarget], timeoutMillis: Int32 = 30_000) throws {
        self.seeds = seeds
        self.timeoutMillis = timeoutMillis
        topology = try ClusterTopology.discover(seeds: seeds)
        itemsPerNode = Array(repeating: 0, count: topology.nodes.count)
    }

    public func client(node: Int) throws -> RESPClient {
        if let c = clients[node] { return c }
        let n = topology.nodes[node]
        let c = try RESPClient(host: n.host, port: n.port, timeoutMillis: timeoutMillis)
        clients[node] = c
        return c
    }

    public func close() {
        for c in clients.values { c.close() }
        clients.removeAll()
    }

    /// Re-reads the slot map (after -MOVED), keeping node indices stable.
    func refresh() throws {
        let fresh = try ClusterTopology.discover(seeds: topology.nodes + seeds)
        var merged = topology
        for s in 0..<ClusterTopology.slotCount {
            let o = fresh.owner[s]
            merged.owner[s] = o < 0 ? -1 : Int16(merged.index(ofHost: fresh.nodes[Int(o)].host, port: fresh.nodes[Int(o)].port))
        }
        topology = merged
        while itemsPerNode.count < topology.nodes.count { itemsPerNode.append(0) }
    }

    @discardableResult
    public func pipelined(_ total: Int, batch: Int = 256, encode: (Int, inout CommandBuffer) -> Int) throws -> (errors: Int, firstError: String?) {
        var item = CommandBuffer(capacity: 4096)
        var errors = 0
        var firstError: String?
        var i = 0
        while i < total {
            // Encode the batch once, keeping each item's bytes and reply count for re-sends.
            var items: [(slot: Int, bytes: [UInt8], replies: Int)] = []
            let end = min(total, i + batch)
            while i < end {
                item.removeAll()
                let replies = encode(i, &item)
                let slot = item.bytes.withUnsafeBytes { EncodedCommands.firstKeySlot($0) }
                items.append((slot, item.bytes, replies))
                i += 1
            }
            var pending = items
            var attempts = 0
            while !pending.isEmpty {
                attempts += 1
                var byNode: [Int: [(slot: Int, bytes: [UInt8], replies: Int)]] = [:]
                for it in pending {
                    let owner = Int(topology.owner[it.slot])
                    guard owner >= 0 else { throw BenchError("slot \(it.slot) is not served by any node") }
                    byNode[owner, default: []].append(it)
                }
                pending = []
                for (node, share) in byNode.sorted(by: { $0.key < $1.key }) {
                    let c = try client(node: node)
                    var buffer: [UInt8] = []
                    var replies = 0
                    for it in share { buffer += it.bytes; replies += it.replies }
                    try c.send(buffer)
                    let result = try c.readReplies(replies)
                    if let e = result.firstError, e.hasPrefix("MOVED ") || e.hasPrefix("ASK "), attempts < 4 {
                        pending += share
                        continue
                    }
                    itemsPerNode[node] += share.count
                    errors += result.errors
                    if firstError == nil { firstError = result.firstError }
                }
                if !pending.isEmpty { try refresh() }
            }
        }
        return (errors, firstError)
    }
}
