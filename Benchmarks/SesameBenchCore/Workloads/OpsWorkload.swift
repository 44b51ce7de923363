// `ops`: one command family at a time against a uniform random keyspace, like redis-benchmark -r
// but with the harness's histograms, CPU accounting and rounds. Families that read or modify
// existing data (get, hgetall, expire, srem) run against a keyspace filled beforehand.

public enum CommandFamily: String, CaseIterable, Sendable, Codable {
    case ping, set, get, hset, hgetall, expire, sadd, srem, del, incr, smembers

    public static let defaults: [CommandFamily] = [.ping, .set, .get, .hset, .hgetall, .expire, .sadd, .srem]

    /// Which prefilled structure the family needs.
    var needsStrings: Bool { self == .get || self == .expire || self == .del }
    var needsHashes: Bool { self == .hgetall }
    var needsSets: Bool { self == .srem || self == .smembers }
}

public struct OpsWorkload: Workload {
    public let family: CommandFamily
    public let keys: Int
    public let valueSize: Int
    public let fields: Int

    public init(family: CommandFamily, keys: Int = 100_000, valueSize: Int = 32, fields: Int = 10) {
        self.family = family
        self.keys = max(1, keys)
        self.valueSize = max(0, valueSize)
        self.fields = max(1, fields)
    }

    public var operationNames: [String] { [family.rawValue] }

    public func makeGenerator(worker: Int, seed: UInt64) -> Generator {
        Generator(family: family, keys: keys, fields: fields, value: Self.value(valueSize, seed: seed), rng: Xoshiro256(seed: seed))
    }

    static func value(_ size: Int, seed: UInt64) -> [UInt8] {
        var rng = Xoshiro256(seed: seed ^ 0x5EED)
        return (0..<size).map { _ in UInt8(97 + rng.nextInt(26)) }
    }

    public struct Generator: OperationGenerator {
        let family: CommandFamily
        let keys: Int
        let fields: Int
        let value: [UInt8]
        var rng: Xoshiro256

        public mutating func encodeNext(into b: inout CommandBuffer) -> (type: Int, replies: Int) {
            let k = rng.nextInt(keys)
            switch family {
            case .ping:
                b.begin(1); b.arg("PING")
            case .set:
                b.begin(3); b.arg("SET"); b.arg("bench:str:", k, ""); b.arg(value)
            case .get:
                b.begin(2); b.arg("GET"); b.arg("bench:str:", k, "")
            case .del:
                b.begin(2); b.arg("DEL"); b.arg("bench:str:", k, "")
            case .incr:
                b.begin(2); b.arg("INCR"); b.arg("bench:ctr:", k, "")
            case .expire:
                b.begin(3); b.arg("EXPIRE"); b.arg("bench:str:", k, ""); b.arg(3600)
            case .hset:
                b.begin(4); b.arg("HSET"); b.arg("bench:hash:", k, ""); b.arg("field:", rng.nextInt(fields), ""); b.arg(value)
            case .hgetall:
                b.begin(2); b.arg("HGETALL"); b.arg("bench:hash:", k, "")
            case .sadd:
                b.begin(3); b.arg("SADD"); b.arg("bench:set:", k, ""); b.arg("member:", rng.nextInt(fields), "")
            case .srem:
                b.begin(3); b.arg("SREM"); b.arg("bench:set:", k, ""); b.arg("member:", rng.nextInt(fields), "")
            case .smembers:
                b.begin(2); b.arg("SMEMBERS"); b.arg("bench:set:", k, "")
            }
            return (0, 1)
        }
    }

    /// Fills the keyspace the family reads. Returns a description of what was loaded.
    public func prefill(_ client: RESPClient) throws -> String? {
        let value = Self.value(valueSize, seed: 7)
        let fields = self.fields
        if family.needsStrings {
            let r = try client.pipelined(keys) { k, b in
                b.begin(3); b.arg("SET"); b.arg("bench:str:", k, ""); b.arg(value); return 1
            }
            if r.errors > 0 { throw BenchError("prefill SET failed: \(r.firstError ?? "")") }
            return "\(keys) strings"
        }
        if family.needsHashes {
            let r = try client.pipelined(keys, batch: 64) { k, b in
                b.begin(2 + 2 * fields); b.arg("HSET"); b.arg("bench:hash:", k, "")
                for f in 0..<fields { b.arg("field:", f, ""); b.arg(value) }
                return 1
            }
            if r.errors > 0 { throw BenchError("prefill HSET failed: \(r.firstError ?? "")") }
            return "\(keys) hashes of \(fields) fields"
        }
        if family.needsSets {
            let r = try client.pipelined(keys, batch: 64) { k, b in
                b.begin(2 + fields); b.arg("SADD"); b.arg("bench:set:", k, "")
                for f in 0..<fields { b.arg("member:", f, "") }
                return 1
            }
            if r.errors > 0 { throw BenchError("prefill SADD failed: \(r.firstError ?? "")") }
            return "\(keys) sets of \(fields) members"
        }
        return nil
    }
}

/// PING and GET over a set of keys, for traffic that runs beside another measurement (expiry).
public struct PingGetWorkload: Workload {
    public let keyPrefix: [UInt8]
    public let keys: Int

    public init(keyPrefix: String, keys: Int) {
        self.keyPrefix = Array(keyPrefix.utf8)
        self.keys = max(1, keys)
    }

    public var operationNames: [String] { ["ping", "get"] }

    public func makeGenerator(worker: Int, seed: UInt64) -> Generator {
        Generator(prefix: keyPrefix, keys: keys, rng: Xoshiro256(seed: seed))
    }

    public struct Generator: OperationGenerator {
        let prefix: [UInt8]
        let keys: Int
        var rng: Xoshiro256

        public mutating func encodeNext(into b: inout CommandBuffer) -> (type: Int, replies: Int) {
            if rng.next() & 1 == 0 {
                b.begin(1); b.arg("PING")
                return (0, 1)
            }
            let k = rng.nextInt(keys)
            b.begin(2); b.arg("GET")
            prefix.withUnsafeBytes { p in b.argPrefixed(p, k) }
            return (1, 1)
        }
    }
}
