// Redis's wire error strings, in one place (as miniredis keeps them). Clients match on these
// texts, so they are copied from Redis 7 exactly; the differential tests hold them to it.

public enum RedisError {
    public static let wrongType: StaticString = "WRONGTYPE Operation against a key holding the wrong kind of value"
    public static let syntax: StaticString = "ERR syntax error"
    public static let notInteger: StaticString = "ERR value is not an integer or out of range"
    public static let dbIndexOutOfRange: StaticString = "ERR DB index is out of range"
    public static let noProto: StaticString = "NOPROTO unsupported protocol version"
    public static let protoNotInteger: StaticString = "ERR Protocol version is not an integer or out of range"
    public static let wrongPass: StaticString = "WRONGPASS invalid username-password pair or user is disabled."
    public static let authNotConfigured: StaticString = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
    public static let noAuth: StaticString = "NOAUTH Authentication required."
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
        var list = ""
        var i = 1
        while i < args.count && list.utf8.count < 128 {
            let room = 128 - list.utf8.count
            list += "'" + prefix(args.string(i), room) + "' "
            i += 1
        }
        return "ERR unknown command '\(prefix(args.string(0), 128))', with args beginning with: \(list)"
    }

    static func prefix(_ s: String, _ maxBytes: Int) -> String {
        let u = Array(s.utf8)
        return u.count <= maxBytes ? s : String(decoding: u[0..<maxBytes], as: UTF8.self)
    }
}
