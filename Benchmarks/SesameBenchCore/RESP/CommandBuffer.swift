// Encodes commands as RESP multibulk (`*N\r\n$len\r\narg\r\n...`) into one reusable byte array.
// The load loop appends whole operations (several pipelined commands) and writes the buffer in
// one syscall; after the write the buffer is emptied keeping its capacity, so steady state
// allocates nothing. Integers are formatted by hand: no String in the per-request path.

public struct CommandBuffer: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 16 * 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }
    public var isEmpty: Bool { bytes.isEmpty }

    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// Drops the first `n` bytes (after a partial write).
    public mutating func removeFirst(_ n: Int) {
        if n >= bytes.count { bytes.removeAll(keepingCapacity: true) } else { bytes.removeFirst(n) }
    }

    // MARK: Multibulk framing

    /// Starts a command of `argumentCount` arguments (the command name counts).
    @inline(__always)
    public mutating func begin(_ argumentCount: Int) {
        bytes.append(UInt8(ascii: "*"))
        appendDecimal(argumentCount)
        appendCRLF()
    }

    @inline(__always)
    public mutating func arg(_ text: StaticString) {
        text.withUTF8Buffer { arg(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always)
    public mutating func arg(_ raw: UnsafeRawBufferPointer) {
        bulkHeader(raw.count)
        bytes.append(contentsOf: raw)
        appendCRLF()
    }

    @inline(__always)
    public mutating func arg(_ array: [UInt8]) {
        array.withUnsafeBytes { arg($0) }
    }

    /// A String argument (convenience for control commands; not for the hot loop).
    public mutating func arg(_ text: String) {
        var copy = text
        copy.withUTF8 { arg(UnsafeRawBufferPointer($0)) }
    }

    /// A decimal integer argument.
    @inline(__always)
    public mutating func arg(_ value: Int) {
        bulkHeader(Self.decimalLength(value))
        appendDecimal(value)
        appendCRLF()
    }

    /// `prefix` + decimal `number` + `suffix` + `tail`, e.g. `sess:{` 42 `}:` <id>.
    @inline(__always)
    public mutating func arg(_ prefix: StaticString, _ number: Int, _ suffix: StaticString, _ tail: UnsafeRawBufferPointer? = nil) {
        let length = prefix.utf8CodeUnitCount + Self.decimalLength(number) + suffix.utf8CodeUnitCount + (tail?.count ?? 0)
        bulkHeader(length)
        prefix.withUTF8Buffer { bytes.append(contentsOf: $0) }
        appendDecimal(number)
        suffix.withUTF8Buffer { bytes.append(contentsOf: $0) }
        if let tail { bytes.append(contentsOf: tail) }
        appendCRLF()
    }

    /// Runtime `prefix` + decimal `number`.
    @inline(__always)
    public mutating func argPrefixed(_ prefix: UnsafeRawBufferPointer, _ number: Int) {
        bulkHeader(prefix.count + Self.decimalLength(number))
        bytes.append(contentsOf: prefix)
        appendDecimal(number)
        appendCRLF()
    }

    /// A dotted IPv4 address argument.
    @inline(__always)
    public mutating func argIPv4(_ address: UInt32) {
        let o1 = Int(address >> 24), o2 = Int((address >> 16) & 0xFF), o3 = Int((address >> 8) & 0xFF), o4 = Int(address & 0xFF)
        bulkHeader(3 + Self.decimalLength(o1) + Self.decimalLength(o2) + Self.decimalLength(o3) + Self.decimalLength(o4))
        appendDecimal(o1); bytes.append(UInt8(ascii: "."))
        appendDecimal(o2); bytes.append(UInt8(ascii: "."))
        appendDecimal(o3); bytes.append(UInt8(ascii: "."))
        appendDecimal(o4)
        appendCRLF()
    }

    /// Encodes a whole command from strings (control path).
    public mutating func command(_ arguments: [String]) {
        begin(arguments.count)
        for argument in arguments { arg(argument) }
    }

    public static func encode(_ arguments: [String]) -> [UInt8] {
        var buffer = CommandBuffer(capacity: 64)
        buffer.command(arguments)
        return buffer.bytes
    }

    // MARK: Pieces

    @inline(__always)
    mutating func bulkHeader(_ length: Int) {
        bytes.append(UInt8(ascii: "$"))
        appendDecimal(length)
        appendCRLF()
    }

    @inline(__always)
    mutating func appendCRLF() {
        bytes.append(13)
        bytes.append(10)
    }

    @inline(__always)
    static func decimalLength(_ value: Int) -> Int {
        if value < 0 { return 1 + decimalLength(value == Int.min ? Int.max : -value) }
        var length = 1
        var v = value
        while v >= 10 { v /= 10; length += 1 }
        return length
    }

    @inline(__always)
    mutating func appendDecimal(_ value: Int) {
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            if value == Int.min {
                for byte in "9223372036854775808".utf8 { bytes.append(byte) }
                return
            }
            appendDecimal(-value)
            return
        }
        if value < 10 {
            bytes.append(UInt8(48 + value))
            return
        }
        var divisor = 1
        var v = value
        while v >= 10 { v /= 10; divisor *= 10 }
        var rest = value
        while divisor > 0 {
            let digit = rest / divisor
            bytes.append(UInt8(48 + digit))
            rest -= digit * divisor
            divisor /= 10
        }
    }
}
