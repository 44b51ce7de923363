// Incremental RESP2/RESP3 reply parser with three outcomes, as in mini-redis and RediStack:
// a complete reply (and how many bytes it used), nil for "need more bytes", or a thrown
// `RESPError` for malformed input. Nothing is consumed unless a whole reply is there, so a caller
// keeps its unread bytes and calls again after the next read.
//
// Two entry points:
// - `parse` builds a `RESPValue` (control connections, tests).
// - `scan` only finds where the reply ends and what kind it is, iteratively and without
//   allocating: the load loop only needs "which op completed, was it an error, was it empty".
//
// Types: `+ - : $ *` (RESP2) and `_ , # ( = ! % ~ > |` (RESP3). Attributes (`|`) are skipped and
// the value they annotate is returned. Sizes and nesting are capped so a broken server cannot
// make the client allocate without bound.

public struct RESPError: Error, Equatable, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

public indirect enum RESPValue: Equatable, Sendable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// nil is the RESP2 null bulk string `$-1`.
    case bulkString([UInt8]?)
    /// nil is the RESP2 null array `*-1`.
    case array([RESPValue]?)
    case null
    case double(Double)
    case boolean(Bool)
    case bigNumber(String)
    case verbatim(format: String, text: [UInt8])
    case blobError([UInt8])
    /// Key/value pairs flattened: k1, v1, k2, v2, ...
    case map([RESPValue])
    case set([RESPValue])
    case push([RESPValue])

    /// The text of a string-like reply.
    public var string: String? {
        switch self {
        case .simpleString(let s), .error(let s), .bigNumber(let s): return s
        case .bulkString(let b?), .blobError(let b), .verbatim(_, let b): return String(decoding: b, as: UTF8.self)
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    public var isError: Bool {
        switch self {
        case .error, .blobError: return true
        default: return false
        }
    }

    public var integer: Int64? {
        switch self {
        case .integer(let i): return i
        case .bulkString(let b?): return Int64(String(decoding: b, as: UTF8.self))
        default: return nil
        }
    }

    /// Elements of an aggregate (array, set, push, map flattened).
    public var elements: [RESPValue]? {
        switch self {
        case .array(let a): return a
        case .set(let a), .push(let a), .map(let a): return a
        default: return nil
        }
    }
}

/// What `scan` learns about one reply without building it.
public struct ReplySummary: Equatable, Sendable {
    /// Bytes the whole reply occupies.
    public var length: Int
    /// Type byte of the outermost value (`|` when the reply starts with an attribute).
    public var type: UInt8
    /// Count/length on the outermost header line (-1 for nulls), 0 for simple types.
    public var header: Int

    public var isError: Bool { type == UInt8(ascii: "-") || type == UInt8(ascii: "!") }

    /// Null or an empty aggregate: "nothing there" (HGETALL of a missing key, GET miss).
    public var isEmpty: Bool {
        switch type {
        case UInt8(ascii: "_"): return true
        case UInt8(ascii: "*"), UInt8(ascii: "%"), UInt8(ascii: "~"), UInt8(ascii: "$"): return header <= 0 && !(type == UInt8(ascii: "$") && header == 0)
        default: return false
        }
    }
}

public struct RESPReplyParser: Sendable {
    public var maxBulkLength = 512 * 1024 * 1024
    public var maxAggregateCount = 16 * 1024 * 1024
    public var maxLineLength = 64 * 1024
    public var maxDepth = 64

    public init() {}

    // MARK: Scanning (no allocation)

    /// Finds the end of the first complete reply in `buffer`. nil: need more bytes.
    public func scan(_ buffer: UnsafeRawBufferPointer) throws(RESPError) -> ReplySummary? {
        guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count > 0 else { return nil }
        let count = buffer.count
        var index = 0
        var pending = 1
        var summary: ReplySummary? = nil
        var steps = 0
        while pending > 0 {
            steps += 1
            if steps > maxAggregateCount { throw RESPError("reply has too many elements") }
            guard index < count else { return nil }
            let type = base[index]
            guard let lineEnd = try findLineEnd(base, from: index + 1, count: count) else { return nil }
            var next = lineEnd + 2
            var header = 0
            switch type {
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "("):
                pending -= 1
            case UInt8(ascii: ":"):
                _ = try parseInteger(base, from: index + 1, to: lineEnd)
                pending -= 1
            case UInt8(ascii: ","):
                guard lineEnd > index + 1 else { throw RESPError("empty double") }
                pending -= 1
            case UInt8(ascii: "_"):
                guard lineEnd == index + 1 else { throw RESPError("null with payload") }
                header = -1
                pending -= 1
            case UInt8(ascii: "#"):
                guard lineEnd == index + 2, base[index + 1] == UInt8(ascii: "t") || base[index + 1] == UInt8(ascii: "f") else {
                    throw RESPError("invalid boolean")
                }
                pending -= 1
            case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
                let length = try parseInteger(base, from: index + 1, to: lineEnd)
                header = length
                if length == -1 && type == UInt8(ascii: "$") {
                    pending -= 1
                } else {
                    guard length >= 0 else { throw RESPError("negative bulk length \(length)") }
                    guard length <= maxBulkLength else { throw RESPError("bulk length \(length) over limit") }
                    guard next + length + 2 <= count else { return nil }
                    guard base[next + length] == 13, base[next + length + 1] == 10 else {
                        throw RESPError("bulk string not terminated by CRLF")
                    }
                    if type == UInt8(ascii: "=") && length < 4 { throw RESPError("verbatim string too short") }
                    next += length + 2
                    pending -= 1
                }
            case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
                let n = try parseInteger(base, from: index + 1, to: lineEnd)
                header = n
                if n == -1 && type == UInt8(ascii: "*") {
                    pending -= 1
                } else {
                    guard n >= 0 else { throw RESPError("negative aggregate count \(n)") }
                    guard n <= maxAggregateCount else { throw RESPError("aggregate count \(n) over limit") }
                    switch type {
                    case UInt8(ascii: "%"): pending += 2 * n - 1
                    case UInt8(ascii: "|"): pending += 2 * n  // the annotated value still follows
                    default: pending += n - 1
                    }
                }
            default:
                throw RESPError("unknown reply type byte \(type)")
            }
            if summary == nil {
                summary = ReplySummary(length: 0, type: type, header: header)
            }
            index = next
        }
        summary!.length = index
        return summary
    }

    // MARK: Parsing into values

    /// Parses the first complete reply. nil: need more bytes.
    public func parse(_ buffer: UnsafeRawBufferPointer) throws(RESPError) -> (value: RESPValue, length: Int)? {
        guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count > 0 else { return nil }
        var index = 0
        guard let value = try parseValue(base, count: buffer.count, index: &index, depth: 0) else { return nil }
        return (value, index)
    }

    /// Convenience for arrays: parses the first reply of `bytes`.
    public func parse(_ bytes: [UInt8]) throws(RESPError) -> (value: RESPValue, length: Int)? {
        do {
            return try bytes.withUnsafeBytes { raw in try parse(raw) }
        } catch let error as RESPError {
            throw error
        } catch {
            throw RESPError("\(error)")
        }
    }

    private func parseValue(_ base: UnsafePointer<UInt8>, count: Int, index: inout Int, depth: Int) throws(RESPError) -> RESPValue? {
        guard depth <= maxDepth else { throw RESPError("reply nested deeper than \(maxDepth)") }
        guard index < count else { return nil }
        let start = index
        let type = base[start]
        guard let lineEnd = try findLineEnd(base, from: start + 1, count: count) else { return nil }
        let line = UnsafeBufferPointer(start: base + start + 1, count: lineEnd - start - 1)
        var next = lineEnd + 2
        let value: RESPValue
        switch type {
        case UInt8(ascii: "+"):
            value = .simpleString(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            value = .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            value = .integer(Int64(try parseInteger(base, from: start + 1, to: lineEnd)))
        case UInt8(ascii: "("):
            value = .bigNumber(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "_"):
            guard line.isEmpty else { throw RESPError("null with payload") }
            value = .null
        case UInt8(ascii: "#"):
            guard line.count == 1, line[0] == UInt8(ascii: "t") || line[0] == UInt8(ascii: "f") else {
                throw RESPError("invalid boolean")
            }
            value = .boolean(line[0] == UInt8(ascii: "t"))
        case UInt8(ascii: ","):
            let text = String(decoding: line, as: UTF8.self)
            switch text {
            case "inf", "+inf": value = .double(.infinity)
            case "-inf": value = .double(-.infinity)
            case "nan", "-nan": value = .double(.nan)
            default:
                guard let d = Double(text) else { throw RESPError("invalid double '\(text)'") }
                value = .double(d)
            }
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            let length = try parseInteger(base, from: start + 1, to: lineEnd)
            if length == -1 && type == UInt8(ascii: "$") {
                value = .bulkString(nil)
            } else {
                guard length >= 0 else { throw RESPError("negative bulk length \(length)") }
                guard length <= maxBulkLength else { throw RESPError("bulk length \(length) over limit") }
                guard next + length + 2 <= count else { return nil }
                guard base[next + length] == 13, base[next + length + 1] == 10 else {
                    throw RESPError("bulk string not terminated by CRLF")
                }
                let payload = Array(UnsafeBufferPointer(start: base + next, count: length))
                next += length + 2
                switch type {
                case UInt8(ascii: "$"): value = .bulkString(payload)
                case UInt8(ascii: "!"): value = .blobError(payload)
                default:
                    guard payload.count >= 4, payload[3] == UInt8(ascii: ":") else { throw RESPError("malformed verbatim string") }
                    value = .verbatim(format: String(decoding: payload[0..<3], as: UTF8.self), text: Array(payload[4...]))
                }
            }
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            let n = try parseInteger(base, from: start + 1, to: lineEnd)
            if n == -1 && type == UInt8(ascii: "*") {
                value = .array(nil)
            } else {
                guard n >= 0 else { throw RESPError("negative aggregate count \(n)") }
                guard n <= maxAggregateCount else { throw RESPError("aggregate count \(n) over limit") }
                let elementCount = (type == UInt8(ascii: "%") || type == UInt8(ascii: "|")) ? 2 * n : n
                var elements: [RESPValue] = []
                elements.reserveCapacity(min(elementCount, 1024))
                var cursor = next
                for _ in 0..<elementCount {
                    guard let element = try parseValue(base, count: count, index: &cursor, depth: depth + 1) else { return nil }
                    elements.append(element)
                }
                next = cursor
                switch type {
                case UInt8(ascii: "*"): value = .array(elements)
                case UInt8(ascii: "~"): value = .set(elements)
                case UInt8(ascii: ">"): value = .push(elements)
                case UInt8(ascii: "%"): value = .map(elements)
                default:
                    // Attribute: skip it and return the value it annotates.
                    var after = next
                    guard let annotated = try parseValue(base, count: count, index: &after, depth: depth + 1) else { return nil }
                    index = after
                    return annotated
                }
            }
        default:
            throw RESPError("unknown reply type byte \(type)")
        }
        index = next
        return value
    }

    // MARK: Lines and integers

    /// Index of the CR of the line starting at `from`; nil if no LF yet. Throws on bare CR/LF
    /// misuse or over-long lines.
    @inline(__always)
    private func findLineEnd(_ base: UnsafePointer<UInt8>, from: Int, count: Int) throws(RESPError) -> Int? {
        var i = from
        let limit = min(count, from + maxLineLength + 2)
        while i < limit {
            if base[i] == 10 {
                guard i - 1 >= from, base[i - 1] == 13 else { throw RESPError("line not terminated by CRLF") }
                return i - 1
            }
            i += 1
        }
        if count - from > maxLineLength + 1 { throw RESPError("reply line longer than \(maxLineLength) bytes") }
        return nil
    }

    @inline(__always)
    private func parseInteger(_ base: UnsafePointer<UInt8>, from: Int, to end: Int) throws(RESPError) -> Int {
        var i = from
        var negative = false
        if i < end && (base[i] == UInt8(ascii: "-") || base[i] == UInt8(ascii: "+")) {
            negative = base[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < end, end - i <= 19 else { throw RESPError("invalid integer") }
        var value = 0
        while i < end {
            let digit = base[i] &- 48
            guard digit < 10 else { throw RESPError("invalid integer") }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(digit))
            guard !o1 && !o2 else { throw RESPError("integer overflow") }
            value = a
            i += 1
        }
        return negative ? -value : value
    }
}
