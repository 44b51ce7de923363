// Redis's wire error strings, in one place (as miniredis keeps them). Clients match on these
// texts, so they are copied from Redis 7 exactly; the differential tests hold them to it.

public enum RedisError {
    public static let wrongType: StaticString = "WRONGTYPE Operation against a key holding the wrong kind of value"
    public static let syntax: StaticString = "ERR syntax error"
    public static let notInteger: StaticString = "ERR value is not an integer or out of range"
    /// getIntFromObjectOrReply: an integer that does not fit in a C int.
    public static let intOutOfRange: StaticString = "ERR value is out of range, value must between -2147483648 and 2147483647"
    public static let dbIndexOutOfRange: StaticString = "ERR DB index is out of range"
    public static let noProto: StaticString = "NOPROTO unsupported protocol version"
    public static let protoNotInteger: StaticString = "ERR Protocol version is not an integer or out of range"
    public static let wrongPass: StaticString = "WRONGPASS invalid username-password pair or user is disabled."
    public static let authNotConfigured: StaticString = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    public static let noAuth: StaticString = "NOAUTH Authentication required."
    public static let oom: StaticString = "OOM command not allowed when used memory > 'maxmemory'."
    public static let clientNameInvalid: StaticString = "ERR Client names cannot contain spaces, newlines or special characters."
    public static let nxXXGTLT: StaticString = "ERR NX and XX, GT or LT options at the same time are not compatible"
    public static let gtAndLT: StaticString = "ERR GT and LT options at the same time are not compatible"

    public static func arity(_ fullName: String) -> String {
        "ERR wrong number of arguments for '\(fullName)' command"
    }

    public static func invalidExpire(_ command: String) -> String {
        "ERR invalid expire time in '\(command)' command"
    }

    public static func unsupportedOption(_ option: String) -> String {
        "ERR Unsupported option \(option)"
    }

    public static func unknownSubcommand(_ sub: String, parent: String) -> String {
        "ERR unknown subcommand '\(prefix(sub, 128))'. Try \(parent.uppercased()) HELP."
    }

    /// `unknown command 'x', with args beginning with: 'a' 'b' `: each argument quoted with a
    /// trailing space, stopping once 128 characters of arguments were written (Redis's rule).
    public static func unknownCommand(_ args: Arguments) -> String {
        String(decoding: unknownCommandText(args).bytes, as: UTF8.self)
    }

    // Byte-exact forms, used for replies: Redis formats these with printf's `%s`, so a client's
    // argument comes back as sent (binary included, never replaced by U+FFFD), cut at its first
    // NUL byte and at the `%.128s` limit.

    public static func unknownCommandText(_ args: Arguments) -> ErrorText {
        var list = ErrorText()
        var i = 1
        while i < args.count && list.bytes.count < 128 {
            let room = 128 - list.bytes.count
            list.append("'")
            list.appendArgument(args[i], limit: room)
            list.append("' ")
            i += 1
        }
        var t = ErrorText("ERR unknown command '")
        t.appendArgument(args[0], limit: 128)
        t.append("', with args beginning with: ")
        t.append(list)
        return t
    }

    public static func unknownSubcommandText(_ sub: UnsafeRawBufferPointer, parent: String) -> ErrorText {
        var t = ErrorText("ERR unknown subcommand '")
        t.appendArgument(sub, limit: 128)
        t.append("'. Try ")
        t.append(string: parent.uppercased())
        t.append(" HELP.")
        return t
    }

    public static func unsupportedOptionText(_ option: UnsafeRawBufferPointer) -> ErrorText {
        var t = ErrorText("ERR Unsupported option ")
        t.appendArgument(option)
        return t
    }

    static func prefix(_ s: String, _ maxBytes: Int) -> String {
        let u = Array(s.utf8)
        return u.count <= maxBytes ? s : String(decoding: u[0..<maxBytes], as: UTF8.self)
    }
}

/// The text of an error reply as bytes, starting with its code (`ERR ...`). Arguments are added
/// the way C's `%.Ns` prints them: up to the first NUL byte and at most `limit` bytes.
public struct ErrorText {
    public private(set) var bytes: [UInt8] = []

    public init() {}
    public init(_ s: StaticString) { append(s) }

    public mutating func append(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public mutating func append(string s: String) { bytes.append(contentsOf: s.utf8) }
    public mutating func append(_ other: ErrorText) { bytes.append(contentsOf: other.bytes) }

    public mutating func appendArgument(_ p: UnsafeRawBufferPointer, limit: Int = Int.max) {
        var n = 0
        while n < p.count && n < limit && p[n] != 0 { n += 1 }
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[0..<n]))
    }
}

extension ReplyWriter {
    /// Writes `-<text>\r\n`, turning CR and LF into spaces as Redis does.
    public func error(_ text: ErrorText) {
        out.append(45)
        for b in text.bytes { out.append(b == 13 || b == 10 ? 32 : b) }
        out.append(13); out.append(10)
    }
}
