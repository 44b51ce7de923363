// Sizes a client controls, with Redis 7's defaults. The parser checks every one of them before it
// trusts a declared length, and it never reserves memory from a declared length: a `$536870911`
// header alone costs nothing until the bytes arrive.

public struct RESPLimits: Sendable, Equatable {
    /// proto-max-bulk-len: the largest bulk string argument.
    public var maxBulkLength: Int = 512 * 1024 * 1024
    /// PROTO_INLINE_MAX_SIZE: the longest inline command, and the longest `*`/`$` header line.
    public var maxInlineLength: Int = 64 * 1024
    /// The most arguments one multibulk command may declare.
    public var maxMultibulkLength: Int = 1024 * 1024

    public init() {}
}
