// Redis parses integers with string2ll: no sign but '-', no leading zeros, no spaces, no
// overflow. Replies such as "-ERR value is not an integer or out of range" depend on exactly
// that strictness, so one function serves the parser's length headers and every command.

@inline(__always)
public func parseStrictInt64(_ p: UnsafeRawBufferPointer) -> Int64? {
    let n = p.count
    if n == 0 || n > 20 { return nil }
    if n == 1 && p[0] == UInt8(ascii: "0") { return 0 }
    var i = 0
    var negative = false
    if p[0] == UInt8(ascii: "-") {
        negative = true
        i = 1
        if n == 1 { return nil }
    }
    let first = p[i]
    guard first >= UInt8(ascii: "1") && first <= UInt8(ascii: "9") else { return nil }
    var v: UInt64 = UInt64(first &- 48)
    i += 1
    while i < n {
        let c = p[i]
        guard c >= 48 && c <= 57 else { return nil }
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(c &- 48))
        if o1 || o2 { return nil }
        v = a
        i += 1
    }
    if negative {
        if v > UInt64(Int64.max) + 1 { return nil }
        return v == UInt64(Int64.max) + 1 ? Int64.min : -Int64(v)
    }
    if v > UInt64(Int64.max) { return nil }
    return Int64(v)
}

public func parseStrictInt64(_ bytes: [UInt8]) -> Int64? {
    bytes.withUnsafeBytes { parseStrictInt64($0) }
}
