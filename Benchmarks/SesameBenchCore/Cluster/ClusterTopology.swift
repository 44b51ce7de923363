// The harness's view of a Redis Cluster: which node owns each of the 16384 hash slots, read
// from CLUSTER SLOTS on any node, and the key -> slot function (CRC16/XMODEM of the {hash tag}
// or the whole key). The harness depends on no server code, so the slot function is its own.

public struct ClusterTopology: Sendable {
    public static let slotCount = 16384
    /// Primary addresses, in discovery order.
    public var nodes: [ServerTarget]
    /// Index into `nodes` per slot; -1 when no node serves it.
    public var owner: [Int16]

    /// Asks the seeds in turn for CLUSTER SLOTS; the first answer wins.
    public static func discover(seeds: [ServerTarget]) throws -> ClusterTopology {
        var lastError: Error = BenchError("no seed node given")
        for seed in seeds {
            do {
                let client = try RESPClient(host: seed.host, port: seed.port)
                defer { client.close() }
                return try parse(client.command("CLUSTER", "SLOTS"), seed: seed)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// CLUSTER SLOTS: [[start, end, [ip, port, id, ...], replicas...], ...]. An empty ip means
    /// "the address you asked" (Redis before it learns its own).
    static func parse(_ reply: RESPValue, seed: ServerTarget) throws -> ClusterTopology {
        if case .error(let e) = reply { throw BenchError("CLUSTER SLOTS on \(seed.address): \(e)") }
        guard case .array(let ranges?) = reply else { throw BenchError("CLUSTER SLOTS on \(seed.address): unexpected reply") }
        var topology = ClusterTopology(nodes: [], owner: Array(repeating: -1, count: slotCount))
        for range in ranges {
            guard case .array(let r?) = range, r.count >= 3,
                  case .integer(let start) = r[0], case .integer(let end) = r[1],
                  case .array(let primary?) = r[2], primary.count >= 2,
                  case .integer(let port) = primary[1],
                  start >= 0, end < slotCount, start <= end else {
                throw BenchError("CLUSTER SLOTS on \(seed.address): malformed range \(range)")
            }
            var host = primary[0].string ?? ""
            if host.isEmpty { host = seed.host }
            let index = topology.index(ofHost: host, port: Int(port))
            for s in Int(start)...Int(end) { topology.owner[s] = Int16(index) }
        }
        if topology.nodes.isEmpty { throw BenchError("CLUSTER SLOTS on \(seed.address): no slots are served") }
        return topology
    }

    /// The node's index, adding it when new (a MOVED can name a node discovery did not).
    public mutating func index(ofHost host: String, port: Int) -> Int {
        if let i = nodes.firstIndex(where: { $0.host == host && $0.port == port }) { return i }
        nodes.append(ServerTarget(name: "\(host):\(port)", host: host, port: port))
        return nodes.count - 1
    }

    /// Slots each node owns (for the report).
    public var slotsPerNode: [Int] {
        var counts = Array(repeating: 0, count: nodes.count)
        for o in owner where o >= 0 { counts[Int(o)] += 1 }
        return counts
    }
}

public enum HashSlots {
    public static func slot(_ key: UnsafeRawBufferPointer) -> Int {
        var open = -1
        for i in 0..<key.count where key[i] == UInt8(ascii: "{") { open = i; break }
        if open >= 0 {
            var j = open + 1
            while j < key.count && key[j] != UInt8(ascii: "}") { j += 1 }
            if j < key.count && j > open + 1 {
                return Int(crc16(UnsafeRawBufferPointer(rebasing: key[(open + 1)..<j])) & 0x3FFF)
            }
        }
        return Int(crc16(key) & 0x3FFF)
    }

    public static func slot(_ key: String) -> Int { Array(key.utf8).withUnsafeBytes { slot($0) } }

    static func crc16(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc: UInt16 = 0
        for b in bytes { crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ b)] }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { i -> UInt16 in
        var c = UInt16(i) << 8
        for _ in 0..<8 { c = (c & 0x8000) != 0 ? (c << 1) ^ 0x1021 : c << 1 }
        return c
    }
}

/// Reading commands this harness encoded (RESP arrays of bulk strings) back at the byte level:
/// the routing key of an operation, and where its commands begin and end.
enum EncodedCommands {
    /// The slot of the first command's first argument after the name (the key of every command
    /// the workloads send); slot 0 for a command without arguments.
    static func firstKeySlot(_ b: UnsafeRawBufferPointer) -> Int {
        guard b.count > 0, b[0] == UInt8(ascii: "*") else { return 0 }
        var i = 1
        guard let n = number(b, &i), n >= 2 else { return 0 }
        guard skipBulk(b, &i) else { return 0 }
        guard i < b.count, b[i] == UInt8(ascii: "$") else { return 0 }
        i += 1
        guard let len = number(b, &i), len >= 0, i + len <= b.count else { return 0 }
        return HashSlots.slot(UnsafeRawBufferPointer(rebasing: b[i..<(i + len)]))
    }

    /// Start offsets of each command in `b`, plus `b.count` at the end.
    static func boundaries(_ b: UnsafeRawBufferPointer) -> [Int] {
        var starts: [Int] = []
        var i = 0
        while i < b.count, b[i] == UInt8(ascii: "*") {
            starts.append(i)
            i += 1
            guard let n = number(b, &i) else { break }
            for _ in 0..<max(0, n) where !skipBulk(b, &i) { return starts + [b.count] }
        }
        return starts + [b.count]
    }

    /// Reads digits up to CRLF, leaving `i` after it.
    private static func number(_ b: UnsafeRawBufferPointer, _ i: inout Int) -> Int? {
        var v = 0
        var negative = false
        if i < b.count && b[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        while i < b.count && b[i] != 13 {
            guard b[i] >= 48 && b[i] <= 57 else { return nil }
            v = v * 10 + Int(b[i] - 48)
            i += 1
        }
        guard i + 1 < b.count else { return nil }
        i += 2
        return negative ? -v : v
    }

    private static func skipBulk(_ b: UnsafeRawBufferPointer, _ i: inout Int) -> Bool {
        guard i < b.count, b[i] == UInt8(ascii: "$") else { return false }
        i += 1
        guard let len = number(b, &i), len >= 0 else { return false }
        i += len + 2
        return i <= b.count
    }
}
