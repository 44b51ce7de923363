// A parsed reply, for the few comparisons that cannot be byte-exact (the element order of
// SMEMBERS and of HGETALL on a hash past Redis's listpack limits differs by design).

enum RESPValue: Equatable, CustomStringConvertible {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8])
    case null
    case array([RESPValue])
    case set([RESPValue])
    case map([(RESPValue, RESPValue)])
    case other(type: UInt8, raw: [UInt8])

    static func == (a: RESPValue, b: RESPValue) -> Bool {
        switch (a, b) {
        case (.simple(let x), .simple(let y)), (.error(let x), .error(let y)): return x == y
        case (.integer(let x), .integer(let y)): return x == y
        case (.bulk(let x), .bulk(let y)): return x == y
        case (.null, .null): return true
        case (.array(let x), .array(let y)), (.set(let x), .set(let y)): return x == y
        case (.map(let x), .map(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.other(let t1, let r1), .other(let t2, let r2)): return t1 == t2 && r1 == r2
        default: return false
        }
    }

    var description: String {
        switch self {
        case .simple(let s): return "+\(s)"
        case .error(let s): return "-\(s)"
        case .integer(let i): return ":\(i)"
        case .bulk(let b): return "\"\(printable(b))\""
        case .null: return "(nil)"
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .set(let a): return "~{" + a.map(\.description).joined(separator: ", ") + "}"
        case .map(let m): return "%{" + m.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}"
        case .other(let t, let r): return "\(Character(UnicodeScalar(t)))\(printable(r))"
        }
    }

    var bulkBytes: [UInt8]? { if case .bulk(let b) = self { return b } else { return nil } }
    var string: String? {
        switch self {
        case .bulk(let b): return String(decoding: b, as: UTF8.self)
        case .simple(let s): return s
        default: return nil
        }
    }

    static func parse(_ raw: [UInt8]) throws -> RESPValue {
        var i = 0
        let v = try parse(raw, &i)
        guard i == raw.count else { throw TestFailure("trailing bytes after reply: \(printable(raw))") }
        return v
    }

    private static func parse(_ b: [UInt8], _ i: inout Int) throws -> RESPValue {
        guard i < b.count, let e = RESPFraming.findCRLF(b, i + 1) else { throw TestFailure("truncated reply") }
        let type = b[i]
        let header = String(decoding: b[(i + 1)..<e], as: UTF8.self)
        let start = i
        i = e + 2
        switch type {
        case UInt8(ascii: "+"): return .simple(header)
        case UInt8(ascii: "-"): return .error(header)
        case UInt8(ascii: ":"):
            guard let n = Int(header) else { throw TestFailure("bad integer \(header)") }
            return .integer(n)
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: "$"):
            guard let n = Int(header) else { throw TestFailure("bad bulk length \(header)") }
            if n < 0 { return .null }
            let v = Array(b[i..<(i + n)])
            i += n + 2
            return .bulk(v)
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            guard let n = Int(header) else { throw TestFailure("bad array length \(header)") }
            if n < 0 { return .null }
            var items: [RESPValue] = []
            for _ in 0..<n { items.append(try parse(b, &i)) }
            return type == UInt8(ascii: "~") ? .set(items) : .array(items)
        case UInt8(ascii: "%"):
            guard let n = Int(header) else { throw TestFailure("bad map length \(header)") }
            var pairs: [(RESPValue, RESPValue)] = []
            for _ in 0..<n {
                let k = try parse(b, &i)
                let v = try parse(b, &i)
                pairs.append((k, v))
            }
            return .map(pairs)
        case UInt8(ascii: "="), UInt8(ascii: "!"):
            guard let n = Int(header) else { throw TestFailure("bad length \(header)") }
            i += n + 2
            return .other(type: type, raw: Array(b[start..<i]))
        default:
            return .other(type: type, raw: Array(b[start..<i]))
        }
    }

    /// The reply with collection order removed: elements of arrays and sets sorted by their
    /// encoding, map pairs (or a flat array taken as pairs when `pairs`) sorted likewise.
    func canonical(pairs: Bool) -> String {
        switch self {
        case .array(let a) where pairs && a.count % 2 == 0:
            let p = stride(from: 0, to: a.count, by: 2).map { a[$0].description + " => " + a[$0 + 1].description }
            return "pairs(\(a.count / 2))" + p.sorted().joined(separator: "\n")
        case .array(let a):
            return "array(\(a.count))" + a.map(\.description).sorted().joined(separator: "\n")
        case .set(let a):
            return "set(\(a.count))" + a.map(\.description).sorted().joined(separator: "\n")
        case .map(let m):
            return "map(\(m.count))" + m.map { $0.0.description + " => " + $0.1.description }.sorted().joined(separator: "\n")
        default:
            return description
        }
    }
}
