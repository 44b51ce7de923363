// Redis's glob matcher (util.c stringmatchlen), ported rule for rule so KEYS, SCAN MATCH,
// HSCAN/SSCAN MATCH and CONFIG GET select exactly what Redis selects: `*`, `?`, `[...]` with
// `^` and ranges (reversed ranges allowed), `\` escapes, and Redis's handling of malformed
// patterns (an unclosed `[`, a trailing `\`). Like Redis it cannot be driven exponential: once
// the rest of a pattern failed to match from every later position, earlier `*`s stop trying
// longer matches, and nesting is capped at 1000 (deeper patterns simply do not match).

/// Whether `string` matches the glob `pattern` (Redis's stringmatchlen).
public func stringMatch(_ pattern: UnsafeRawBufferPointer, _ string: UnsafeRawBufferPointer,
                        nocase: Bool = false) -> Bool {
    var skipLongerMatches = false
    return globMatchImpl(pattern, 0, string, 0, nocase, &skipLongerMatches, 0)
}

public func stringMatch(_ pattern: [UInt8], _ string: [UInt8], nocase: Bool = false) -> Bool {
    pattern.withUnsafeBytes { p in string.withUnsafeBytes { s in stringMatch(p, s, nocase: nocase) } }
}

@inline(__always) private func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c | 0x20 : c }

/// C reads a pattern's NUL terminator in a few places; `at` returns 0 past the end likewise.
private func globMatchImpl(_ pattern: UnsafeRawBufferPointer, _ pStart: Int,
                           _ string: UnsafeRawBufferPointer, _ sStart: Int, _ nocase: Bool,
                           _ skipLongerMatches: inout Bool, _ nesting: Int) -> Bool {
    if nesting > 1000 { return false }
    @inline(__always) func at(_ i: Int) -> UInt8 { i < pattern.count ? pattern[i] : 0 }
    var p = pStart, s = sStart
    var patternLen = pattern.count - pStart
    var stringLen = string.count - sStart
    while patternLen > 0 && stringLen > 0 {
        switch pattern[p] {
        case UInt8(ascii: "*"):
            while patternLen > 0 && at(p + 1) == UInt8(ascii: "*") {
                p += 1
                patternLen -= 1
            }
            if patternLen == 1 { return true }
            while stringLen > 0 {
                if globMatchImpl(pattern, p + 1, string, s, nocase, &skipLongerMatches, nesting + 1) { return true }
                if skipLongerMatches { return false }
                s += 1
                stringLen -= 1
            }
            skipLongerMatches = true
            return false
        case UInt8(ascii: "?"):
            s += 1
            stringLen -= 1
        case UInt8(ascii: "["):
            p += 1
            patternLen -= 1
            let not = at(p) == UInt8(ascii: "^")
            if not {
                p += 1
                patternLen -= 1
            }
            var match = false
            let c = string[s]
            while true {
                if at(p) == UInt8(ascii: "\\") && patternLen >= 2 {
                    p += 1
                    patternLen -= 1
                    if at(p) == c { match = true }
                } else if at(p) == UInt8(ascii: "]") {
                    break
                } else if patternLen == 0 {
                    p -= 1
                    patternLen += 1
                    break
                } else if patternLen >= 3 && at(p + 1) == UInt8(ascii: "-") {
                    var start = at(p), end = at(p + 2), ch = c
                    if start > end { swap(&start, &end) }
                    if nocase {
                        start = lower(start)
                        end = lower(end)
                        ch = lower(ch)
                    }
                    p += 2
                    patternLen -= 2
                    if ch >= start && ch <= end { match = true }
                } else if nocase ? lower(at(p)) == lower(c) : at(p) == c {
                    match = true
                }
                p += 1
                patternLen -= 1
            }
            if not { match.toggle() }
            if !match { return false }
            s += 1
            stringLen -= 1
        default:
            if pattern[p] == UInt8(ascii: "\\") && patternLen >= 2 {
                p += 1
                patternLen -= 1
            }
            let a = at(p), b = string[s]
            if nocase ? lower(a) != lower(b) : a != b { return false }
            s += 1
            stringLen -= 1
        }
        p += 1
        patternLen -= 1
        if stringLen == 0 {
            while at(p) == UInt8(ascii: "*") && patternLen > 0 {
                p += 1
                patternLen -= 1
            }
            break
        }
    }
    return patternLen == 0 && stringLen == 0
}
