// INCRBYFLOAT and HINCRBYFLOAT compute in C's `long double` and print with `%.17Lf`, trailing
// zeros cut (Redis util.c string2ld / ld2string LD_STR_HUMAN). On x86 that is the 80-bit
// extended type, which Swift has as Float80, so sums such as 10.6 + 5.0e3 come out as Redis's
// "5010.60000000000000009" and values past Double's range (1e400) work as they do in Redis.
// Elsewhere `long double` falls back to Double (documented in docs/COMMANDS.md).

#if canImport(Glibc)
import Glibc
#endif

#if arch(x86_64) || arch(i386)
typealias LongDouble = Float80
private let longDoubleFormat = "%.17Lf"
@inline(__always) private func cStrtold(_ s: UnsafePointer<CChar>, _ end: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> LongDouble {
    strtold(s, end)
}
#else
typealias LongDouble = Double
private let longDoubleFormat = "%.17f"
@inline(__always) private func cStrtold(_ s: UnsafePointer<CChar>, _ end: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> LongDouble {
    strtod(s, end)
}
#endif

/// MAX_LONG_DOUBLE_CHARS: the longest text string2ld reads, and ld2string's buffer.
private let maxLongDoubleChars = 5 * 1024

/// string2ld: the whole text must be a number strtold accepts (no leading space, no trailing
/// bytes, no NaN, no overflow to infinity or underflow to zero reported by strtold).
func parseLongDouble(_ p: UnsafeRawBufferPointer) -> LongDouble? {
    let n = p.count
    if n == 0 || n >= maxLongDoubleChars { return nil }
    let first = p[0]
    if first == 32 || (first >= 9 && first <= 13) { return nil }
    var buf = [CChar](repeating: 0, count: n + 1)
    buf.withUnsafeMutableBytes { $0.copyMemory(from: p) }
    return buf.withUnsafeMutableBufferPointer { b -> LongDouble? in
        var end: UnsafeMutablePointer<CChar>? = nil
        errno = 0
        let v = cStrtold(b.baseAddress!, &end)
        guard let end, end - b.baseAddress! == n else { return nil }
        if errno == ERANGE && (v.isInfinite || v == 0) { return nil }
        if errno == EINVAL || v.isNaN { return nil }
        return v
    }
}

func parseLongDouble(_ bytes: [UInt8]) -> LongDouble? { bytes.withUnsafeBytes { parseLongDouble($0) } }

/// ld2string in LD_STR_HUMAN mode: `%.17Lf`, then trailing zeros (and a bare '.') removed,
/// and "-0" written "0". The caller has ruled out NaN and infinity.
func formatLongDouble(_ v: LongDouble) -> [UInt8] {
    var buf = [CChar](repeating: 0, count: maxLongDoubleChars)
    let written = withVaList([v]) { vsnprintf(&buf, buf.count, longDoubleFormat, $0) }
    var l = Int(written)
    if l <= 0 || l + 1 > buf.count { return [] }
    if buf[0..<l].contains(CChar(UInt8(ascii: "."))) {
        while l > 0 && buf[l - 1] == CChar(UInt8(ascii: "0")) { l -= 1 }
        if l > 0 && buf[l - 1] == CChar(UInt8(ascii: ".")) { l -= 1 }
    }
    if l == 2 && buf[0] == CChar(UInt8(ascii: "-")) && buf[1] == CChar(UInt8(ascii: "0")) {
        return [UInt8(ascii: "0")]
    }
    return buf[0..<l].map { UInt8(bitPattern: $0) }
}
