// A decoded RESP reply, for the embedded API and tests: the server's own replies read back as
// values. Not used on the request path.

public enum RESPValue: Equatable, Sendable, CustomStringConvertible {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8])
    case null
    case array([RESPValue])
    case map([(RESPValue, RESPValue)])
    case set([RESPValue])
    case double(Double)
    case boolean(Bool)
    case verbatim(String)

    public static func == (a: RESPValue, b: RESPValue) -> Bool {
        switch (a, b) {
        case let (.simple(x), .simple(y)), let (.error(x), .error(y)), let (.verbatim(x), .verbatim(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.bulk(x), .bulk(y)): return x == y
        case (.null, .null): return true
        case let (.array(x), .array(y)), let (.set(x), .set(y)): return x == y
        case let (.map(x), .map(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case let (.double(x), .double(y)): return x == y
        case let (.boolean(x), .boolean(y)): return x == y
        default: return false
        }
    }

    /// Bulk and simple strings as text; nil for other types.
    public var string: String? {
        switch self {
        case .bulk(let b): return String(decoding: b, as: UTF8.self)
        case .simple(let s), .verbatim(let s): return s
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .simple(let s): return s
        case .error(let s): return "(error) \(s)"
        case .integer(let i): return "(integer) \(i)"
        case .bulk(let b): return "\"\(String(decoding: b, as: UTF8.self))\""
        case .null: return "(nil)"
        case .array(let a), .set(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .map(let m): return "{" + m.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}"
        case .double(let d): return "(double) \(d)"
        case .boolean(let b): return "(boolean) \(b)"
        case .verbatim(let s): return s
        }
    }

    /// Decodes one reply from `bytes` starting at `index`, advancing it; nil when incomplete or
    /// malformed.
    public static func decode(_ bytes: [UInt8], _ index: inout Int) -> RESPValue? {
        func line() -> String? {
            var j = index
            while j + 1 < bytes.count {
                if bytes[j] == 13 && bytes[j + 1] == 10 {
                    let s = String(decoding: bytes[index..<j], as: UTF8.self)
                    index = j + 2
                    return s
                }
                j += 1
            }
            return nil
        }
        func blob() -> [UInt8]? {
            guard let l = line(), let n = Int(l) else { return nil }
            if n < 0 { return nil }
            guard index + n + 2 <= bytes.count else { return nil }
            let b = Array(bytes[index..<(index + n)])
            index += n + 2
            return b
        }
        func aggregate(_ n: Int) -> [RESPValue]? {
            var items: [RESPValue] = []
            for _ in 0..<max(n, 0) {
                guard let v = decode(bytes, &index) else { return nil }
                items.append(v)
            }
            return items
        }
        guard index < bytes.count else { return nil }
        let type = bytes[index]
        index += 1
        switch type {
        case UInt8(ascii: "+"): return line().map { .simple($0) }
        case UInt8(ascii: "-"): return line().map { .error($0) }
        case UInt8(ascii: ":"): return line().flatMap { Int($0) }.map { .integer($0) }
        case UInt8(ascii: "_"): return line().map { _ in .null }
        case UInt8(ascii: "#"): return line().map { .boolean($0 == "t") }
        case UInt8(ascii: ","): return line().flatMap { Double($0) }.map { .double($0) }
        case UInt8(ascii: "$"):
            let save = index
            if let l = line(), l == "-1" { return .null }
            index = save
            return blob().map { .bulk($0) }
        case UInt8(ascii: "="):
            return blob().map { .verbatim(String(decoding: $0.dropFirst(4), as: UTF8.self)) }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            guard let l = line(), let n = Int(l) else { return nil }
            if n < 0 { return .null }
            guard let items = aggregate(n) else { return nil }
            return type == UInt8(ascii: "~") ? .set(items) : .array(items)
        case UInt8(ascii: "%"):
            guard let l = line(), let n = Int(l), let items = aggregate(2 * n) else { return nil }
            return .map(stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) })
        default:
            return nil
        }
    }
}
