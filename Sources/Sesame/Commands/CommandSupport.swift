// Helpers shared by the command groups: Redis's integer-argument readers with their exact
// error texts (object.c getRangeLongFromObjectOrReply and friends), locking several keys'
// shards, and moving a string value out of an entry to mutate it in place.

extension Client {
    /// Locks the shards of the key arguments at `indices` (ascending, each once) for `body`,
    /// which reaches each key's shard with `shard(args, i)`. Multi-key commands are therefore
    /// atomic with respect to every other client, as in Redis.
    @inline(__always)
    func withKeysLocked<R>(_ args: Arguments, _ indices: [Int], _ body: () -> R) -> R {
        let ks = keyspace
        if indices.count == 1 {
            let s = ks.shard(for: args[indices[0]])
            s.lock.lock()
            defer { s.lock.unlock() }
            return body()
        }
        return ks.withShards(indices.map { ks.shardIndex(args[$0]) }, body)
    }

    @inline(__always) func shard(_ args: Arguments, _ i: Int) -> Shard { keyspace.shard(for: args[i]) }
}

/// Redis's readers of integer arguments. Each returns nil after replying the error Redis gives.
enum IntegerArgument {
    /// getLongLongFromObjectOrReply.
    static func int64(_ c: Client, _ args: Arguments, _ i: Int) -> Int64? {
        guard let v = args.int64(i) else { c.reply.error(RedisError.notInteger); return nil }
        return v
    }

    /// getRangeLongFromObjectOrReply: `message` replaces both default texts when given.
    static func inRange(_ c: Client, _ args: Arguments, _ i: Int, _ range: ClosedRange<Int64>,
                        message: String? = nil) -> Int64? {
        guard let v = args.int64(i) else {
            if let message { c.reply.error(string: "ERR " + message) } else { c.reply.error(RedisError.notInteger) }
            return nil
        }
        guard range.contains(v) else {
            c.reply.error(string: "ERR " + (message ?? "value is out of range, value must between \(range.lowerBound) and \(range.upperBound)"))
            return nil
        }
        return v
    }

    /// getPositiveLongFromObjectOrReply (0 included).
    static func nonNegative(_ c: Client, _ args: Arguments, _ i: Int, message: String = "value is out of range, must be positive") -> Int64? {
        inRange(c, args, i, 0...Int64.max, message: message)
    }

    /// getIntFromObjectOrReply.
    static func int32(_ c: Client, _ args: Arguments, _ i: Int, message: String? = nil) -> Int? {
        inRange(c, args, i, Int64(Int32.min)...Int64(Int32.max), message: message).map { Int($0) }
    }
}

extension Entry {
    /// Moves a string out of the entry (as takeHash/takeSet do) so it can be changed with a
    /// unique reference; nil, leaving the entry alone, when the value is not a string.
    @inline(__always) mutating func takeString() -> [UInt8]? {
        guard case .string(let s) = value else { return nil }
        value = .string([])
        return s
    }
}

/// The canonical decimal form of an integer, as Redis replies and stores it.
@inline(__always) func decimalBytes(_ v: Int64) -> [UInt8] { Array(String(v).utf8) }

/// A small non-cryptographic generator for HRANDFIELD / SRANDMEMBER / SPOP / RANDOMKEY
/// (Redis uses random() there too): seeded once per call from the system generator.
struct CommandRandom: RandomNumberGenerator {
    private var state: UInt64
    init() {
        var g = SystemRandomNumberGenerator()
        state = g.next()
    }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
