// Redis's sdssplitargs: how inline commands and config-file lines are cut into arguments.
// One implementation serves the request parser and the configuration reader.

/// Splits a line the way Redis's sdssplitargs does: spaces separate, "double quotes" take
/// \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes' take \', and a closing quote must be
/// followed by a space or the end. A NUL byte ends the line, as in C.
public func splitArguments(_ line: UnsafeRawBufferPointer, into inlineScratch: inout [UInt8],
                       spans: inout [ArgumentSpan]) -> Bool {
    inlineScratch.removeAll(keepingCapacity: true)
    spans.removeAll(keepingCapacity: true)
    let n = line.count
    @inline(__always) func at(_ i: Int) -> UInt8 { i < n ? line[i] : 0 }
    @inline(__always) func isSpace(_ c: UInt8) -> Bool { c == 32 || (c >= 9 && c <= 13) }
    var p = 0
    while true {
        while p < n && isSpace(at(p)) { p += 1 }
        if at(p) == 0 { return true }
        let argStart = inlineScratch.count
        var inDouble = false, inSingle = false, done = false
        while !done {
            let c = at(p)
            if inDouble {
                if c == UInt8(ascii: "\\") && at(p + 1) == UInt8(ascii: "x") && isHex(at(p + 2)) && isHex(at(p + 3)) {
                    inlineScratch.append(hexValue(at(p + 2)) << 4 | hexValue(at(p + 3)))
                    p += 3
                } else if c == UInt8(ascii: "\\") && at(p + 1) != 0 {
                    p += 1
                    switch at(p) {
                    case UInt8(ascii: "n"): inlineScratch.append(10)
                    case UInt8(ascii: "r"): inlineScratch.append(13)
                    case UInt8(ascii: "t"): inlineScratch.append(9)
                    case UInt8(ascii: "b"): inlineScratch.append(8)
                    case UInt8(ascii: "a"): inlineScratch.append(7)
                    default: inlineScratch.append(at(p))
                    }
                } else if c == UInt8(ascii: "\"") {
                    if at(p + 1) != 0 && !isSpace(at(p + 1)) { return false }
                    done = true
                } else if c == 0 {
                    return false
                } else {
                    inlineScratch.append(c)
                }
            } else if inSingle {
                if c == UInt8(ascii: "\\") && at(p + 1) == UInt8(ascii: "'") {
                    p += 1
                    inlineScratch.append(UInt8(ascii: "'"))
                } else if c == UInt8(ascii: "'") {
                    if at(p + 1) != 0 && !isSpace(at(p + 1)) { return false }
                    done = true
                } else if c == 0 {
                    return false
                } else {
                    inlineScratch.append(c)
                }
            } else {
                switch c {
                case 32, 10, 13, 9, 0: done = true
                case UInt8(ascii: "\""): inDouble = true
                case UInt8(ascii: "'"): inSingle = true
                default: inlineScratch.append(c)
                }
            }
            if at(p) != 0 { p += 1 }
        }
        spans.append(ArgumentSpan(offset: argStart, length: inlineScratch.count - argStart))
    }
}

/// Splits a line into owned arguments; nil for unbalanced quotes.
public func splitArguments(_ line: [UInt8]) -> [[UInt8]]? {
    var scratch: [UInt8] = []
    var spans: [ArgumentSpan] = []
    let ok = line.withUnsafeBytes { splitArguments($0, into: &scratch, spans: &spans) }
    guard ok else { return nil }
    return spans.map { Array(scratch[$0.offset..<($0.offset + $0.length)]) }
}

@inline(__always) private func isHex(_ c: UInt8) -> Bool {
    (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
}

@inline(__always) private func hexValue(_ c: UInt8) -> UInt8 {
    if c <= 57 { return c - 48 }
    if c <= 70 { return c - 55 }
    return c - 87
}

