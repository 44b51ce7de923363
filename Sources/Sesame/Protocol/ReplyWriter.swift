// Appends RESP replies to a connection's output buffer. One writer type for both protocol
// versions: RESP2 by default, RESP3 after HELLO 3. Only the few shapes that differ (null, map,
// set, double, verbatim) look at the version; everything else is the same bytes.

public struct ReplyWriter {
    /// The output buffer, unretained: a writer lives only while its command runs and the
    /// client owns the buffer. Every write borrows it through `_withUnsafeGuaranteedRef`; a
    /// strong (or `unowned(unsafe)`) reference cost a retain/release pair per command.
    @usableFromInline let buffer: Unmanaged<ByteBuffer>
    public var resp3: Bool

    /// `out` must outlive the writer (the client's own buffer does).
    public init(out: ByteBuffer, resp3: Bool = false) {
        self.buffer = .passUnretained(out)
        self.resp3 = resp3
    }

    @inline(__always) init(_ buffer: Unmanaged<ByteBuffer>, resp3: Bool) {
        self.buffer = buffer
        self.resp3 = resp3
    }

    /// The buffer as a strong reference, for writes off the hot path.
    public var out: ByteBuffer { buffer.takeUnretainedValue() }

    @inline(__always) func with<R>(_ body: (ByteBuffer) -> R) -> R { buffer._withUnsafeGuaranteedRef(body) }

    @inline(__always) func crlf() { with { $0.append(13); $0.append(10) } }

    public func ok() { with { $0.append("+OK\r\n") } }
    public func simple(_ s: StaticString) { with { $0.append(43); $0.append(s); $0.append(13); $0.append(10) } }
    public func simple(string s: String) { out.append(43); out.append(string: s); crlf() }

    /// `message` must start with the error code (`ERR ...`, `WRONGTYPE ...`). Newlines in it are
    /// replaced by spaces, as Redis does, so an error can never break the framing.
    public func error(_ message: StaticString) { with { $0.append(45); $0.append(message); $0.append(13); $0.append(10) } }
    public func error(string message: String) {
        out.append(45)
        for b in message.utf8 { out.append(b == 13 || b == 10 ? 32 : b) }
        crlf()
    }

    @inline(__always) public func integer(_ v: Int) { with { $0.appendLine(58, v) } }
    @inline(__always) public func integer(_ v: Int64) { integer(Int(v)) }

    @inline(__always) public func bulk(_ bytes: UnsafeRawBufferPointer) { with { $0.appendBulk(bytes) } }
    @inline(__always) public func bulk(_ bytes: [UInt8]) { bytes.withUnsafeBytes { bulk($0) } }
    public func bulk(string s: String) { bulk(Array(s.utf8)) }
    public func bulk(_ s: StaticString) {
        bulk(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public func null() { let r = resp3; with { if r { $0.append("_\r\n") } else { $0.append("$-1\r\n") } } }
    public func nullArray() { let r = resp3; with { if r { $0.append("_\r\n") } else { $0.append("*-1\r\n") } } }

    @inline(__always) public func arrayHeader(_ n: Int) { with { $0.appendLine(42, n) } }
    /// A map of `n` pairs: `%n` in RESP3, a flat array of 2n elements in RESP2.
    @inline(__always) public func mapHeader(_ n: Int) {
        let r = resp3; with { if r { $0.appendLine(37, n) } else { $0.appendLine(42, 2 * n) } }
    }
    public func setHeader(_ n: Int) { let t: UInt8 = resp3 ? 126 : 42; with { $0.appendLine(t, n) } }
    public func boolean(_ b: Bool) {
        if resp3 { out.append(b ? "#t\r\n" : "#f\r\n") } else { integer(b ? 1 : 0) }
    }
    /// Long text (INFO): a verbatim string in RESP3, a bulk string in RESP2.
    public func verbatim(_ text: String) {
        if resp3 {
            let bytes = Array(text.utf8)
            out.append(61); out.appendDecimal(bytes.count + 4); crlf()
            out.append("txt:"); out.append(bytes); crlf()
        } else {
            bulk(string: text)
        }
    }
}
