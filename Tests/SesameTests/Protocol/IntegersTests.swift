import Testing
@testable import Sesame

/// parseStrictInt64 must accept exactly what Redis's string2ll accepts.
@Suite struct StrictIntegerTests {
    @Test(arguments: [
        ("0", Int64(0)), ("1", 1), ("-1", -1), ("42", 42), ("1234567890", 1_234_567_890),
        ("9223372036854775807", Int64.max), ("-9223372036854775808", Int64.min),
        ("-9223372036854775807", -Int64.max),
    ])
    func accepts(_ text: String, _ value: Int64) {
        #expect(parseStrictInt64(bytes(text)) == value)
    }

    @Test(arguments: [
        "", "-", "+", "+1", "-0", "00", "01", "-01", "007", " 1", "1 ", "1\r", "1.0", "1e3", "0x10", "--1", "1-",
        "9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999",
        "123456789012345678901", "00000000000000000001",
    ])
    func rejects(_ text: String) {
        #expect(parseStrictInt64(bytes(text)) == nil)
    }

    @Test func rawBufferVariantMatches() {
        let text = bytes("xx-12345yy")
        text.withUnsafeBytes { raw in
            #expect(parseStrictInt64(UnsafeRawBufferPointer(rebasing: raw[2..<8])) == -12345)
            #expect(parseStrictInt64(UnsafeRawBufferPointer(rebasing: raw[2..<9])) == nil)
        }
    }
}
