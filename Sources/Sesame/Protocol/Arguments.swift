// A command's arguments as a borrowed view: spans into a buffer that stays put while the
// handler runs. Handlers copy only what they store (keys, values); comparisons, integer
// parsing and lookups work on the borrowed bytes.

public struct Arguments {
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline let spans: UnsafeBufferPointer<ArgumentSpan>

    public init(base: UnsafePointer<UInt8>, spans: UnsafeBufferPointer<ArgumentSpan>) {
        self.base = base
        self.spans = spans
    }

    @inline(__always) public var count: Int { spans.count }

    @inline(__always) public subscript(i: Int) -> UnsafeRawBufferPointer {
        let s = spans[i]
        return UnsafeRawBufferPointer(start: base + s.offset, count: s.length)
    }

    @inline(__always) public func bytes(_ i: Int) -> [UInt8] { Array(self[i]) }
    @inline(__always) public func key(_ i: Int) -> Key { Key(self[i]) }
    @inline(__always) public func int64(_ i: Int) -> Int64? { parseStrictInt64(self[i]) }
    public func string(_ i: Int) -> String { String(decoding: self[i], as: UTF8.self) }

    /// ASCII case-insensitive comparison against a lowercase literal (option names).
    @inline(__always) public func matches(_ i: Int, _ lowercase: StaticString) -> Bool {
        let a = self[i]
        let n = lowercase.utf8CodeUnitCount
        guard a.count == n else { return false }
        let l = lowercase.utf8Start
        for j in 0..<n {
            var c = a[j]
            if c >= 65 && c <= 90 { c |= 0x20 }  // fold ASCII letters only
            if c != l[j] { return false }
        }
        return true
    }

    /// The arguments copied out, for MULTI queues, logs and tests.
    public func toArrays() -> [[UInt8]] { (0..<count).map { bytes($0) } }
}

/// Owned arguments (a flat byte buffer plus spans), for commands that outlive the input buffer
/// and for tests and the embedded API.
public struct OwnedArguments: Sendable {
    public private(set) var storage: [UInt8] = []
    public private(set) var spans: [ArgumentSpan] = []

    public init(_ args: [[UInt8]]) {
        storage.reserveCapacity(args.reduce(0) { $0 + $1.count })
        for a in args {
            spans.append(ArgumentSpan(offset: storage.count, length: a.count))
            storage.append(contentsOf: a)
        }
    }

    public init(_ args: [String]) { self.init(args.map { Array($0.utf8) }) }

    public var count: Int { spans.count }

    public func withArguments<R>(_ body: (Arguments) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer { st in
            try spans.withUnsafeBufferPointer { sp in
                // An empty storage still needs a valid base pointer for zero-length spans.
                var dummy: UInt8 = 0
                if let b = st.baseAddress {
                    return try body(Arguments(base: b, spans: sp))
                }
                return try withUnsafePointer(to: &dummy) { try body(Arguments(base: $0, spans: sp)) }
            }
        }
    }
}
