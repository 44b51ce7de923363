#if canImport(Glibc)
import Glibc
#endif

// Incremental RESP request parser. It reads commands in place from a connection's ByteBuffer:
// multibulk (`*N\r\n$L\r\n...`) and inline (`PING\r\n`) requests, split across any read
// boundaries. Three outcomes, as in mini-redis and RediStack: a complete command, "need more
// bytes", or malformed (with Redis's exact protocol error text; the connection replies and then
// closes). Progress through a partial command is kept (the bulks of a multibulk already read, how
// far an inline line was searched for its newline), so a command that arrives one byte at a time
// is never rescanned from its start: parsing stays linear in the bytes received. Only a `*`/`$`
// header line, at most 64 KB, is searched again from its start.
//
// Arguments are spans (offset, length) into the connection's input buffer: no copy, no per
// argument allocation. Inline arguments need unescaping, so they are copied once into a scratch
// buffer the parser owns and reused.

public struct ArgumentSpan: Sendable {
    public var offset: Int
    public var length: Int
}

public enum ParseOutcome: Equatable {
    /// A full command is ready: read it with `withArguments`, then call `commandDone`.
    case command
    /// The buffer holds only part of a command; read more and call `next` again.
    case needMore
    /// A blank inline line or `*0`/`*-1`: consumed, nothing to run and nothing to reply (Redis).
    case empty
    /// Malformed input: reply `-ERR <message>` and close the connection.
    case protocolError(String)
}

/// The spans of a multibulk command, in memory the parser manages by hand: written once per
/// argument, an Array cost a uniqueness check (and a bounds check) per argument. Copies of a
/// parser share it, so only one copy may parse (each connection owns exactly one parser).
final class SpanStorage {
    private(set) var base: UnsafeMutablePointer<ArgumentSpan>
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    /// Room for at least `count` spans, keeping the first `keep`.
    func grow(to count: Int, keeping keep: Int) {
        var c = capacity
        while c < count { c *= 2 }
        let fresh = UnsafeMutablePointer<ArgumentSpan>.allocate(capacity: c)
        fresh.update(from: base, count: keep)
        base.deallocate()
        base = fresh
        capacity = c
    }

    deinit { base.deallocate() }
}

public struct RESPParser {
    public var limits: RESPLimits
    /// True while the connection still has to AUTH (requirepass is set). As in Redis 7, such a
    /// client may not declare more than 10 arguments or a bulk over 16 KB, so a peer that does
    /// not know the password cannot make the server buffer large requests. The owner of the
    /// connection keeps this in step with the client's authentication state.
    public var authRequired = false
    /// Spans of the current command's arguments. Absolute indices into the buffer for
    /// multibulk, indices into `inlineScratch` for inline commands.
    /// The current command's arguments are `spans[..<spanCount]`. The array only grows: a new
    /// command resets `spanCount` instead of `removeAll(keepingCapacity:)`, which costs a
    /// generic replaceSubrange and a uniqueness check per command (~10% of a GET's
    /// instructions with the key scratch's same pattern, callgrind).
    private let spanStorage = SpanStorage(capacity: 16)
    /// `spanStorage`'s base and capacity, copied here so the loop reads plain fields.
    private var spanBase: UnsafeMutablePointer<ArgumentSpan>
    private var spanCapacity: Int
    /// An inline command's spans (into `inlineScratch`), built by splitArguments.
    private var inlineSpans: [ArgumentSpan] = []
    private var spanCount = 0
    private var isInline = false
    /// Remaining bulk strings the current multibulk still expects; -1 when between commands.
    private var pendingArgs = -1
    /// Where the current command started and where scanning resumes, as absolute indices.
    private var commandStart = 0
    private var scan = 0
    /// Length of the bulk whose `$len` header was read but whose payload has not all arrived.
    private var pendingBulkLength = -1
    /// An inline line is incomplete: `scan` is how far it was searched for its newline.
    private var inlinePending = false
    private var inlineScratch: [UInt8] = []

    public init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
        spanBase = spanStorage.base
        spanCapacity = spanStorage.capacity
    }

    public var argumentCount: Int { spanCount }

    /// The buffer moved its unread bytes `distance` to the left (ByteBuffer.reserve).
    public mutating func bufferShifted(by distance: Int) {
        guard distance != 0 else { return }
        commandStart -= distance
        scan -= distance
        if !isInline {
            for i in 0..<spanCount { spanBase[i].offset -= distance }
        }
    }

    /// Forgets any partial command, for a buffer that was cleared behind the parser's back.
    public mutating func reset() {
        pendingArgs = -1
        pendingBulkLength = -1
        inlinePending = false
        spanCount = 0
    }

    /// Parses the next command starting at `buffer.readerIndex`.
    public mutating func next(_ buffer: ByteBuffer) -> ParseOutcome {
        if pendingArgs < 0 {
            if buffer.readableBytes == 0 { return .needMore }
            if inlinePending && commandStart == buffer.readerIndex && scan <= buffer.writerIndex {
                return parseInline(buffer)
            }
            // Start a new command.
            inlinePending = false
            commandStart = buffer.readerIndex
            scan = commandStart
            spanCount = 0
            isInline = false
            pendingBulkLength = -1
            if buffer.base[commandStart] != UInt8(ascii: "*") {
                return parseInline(buffer)
            }
            // Multibulk count line.
            let n: Int64, cr: Int
            switch readLength(buffer, bulk: false, at: scan) {
            case .value(let v, let at): (n, cr) = (v, at)
            case .needMore: return .needMore
            case .error(let message): return .protocolError(message)
            }
            if n > Int64(Int32.max) || n > Int64(limits.maxMultibulkLength) {
                return .protocolError("Protocol error: invalid multibulk length")
            }
            if n > 10 && authRequired {
                return .protocolError("Protocol error: unauthenticated multibulk length")
            }
            scan = cr + 2
            if n <= 0 {
                buffer.consume(scan - buffer.readerIndex)
                return .empty
            }
            pendingArgs = Int(n)
        }
        return continueMultibulk(buffer)
    }

    /// Called after the command returned by `.command` ran: drops its bytes from the buffer.
    public mutating func commandDone(_ buffer: ByteBuffer) {
        buffer.consume(scan - buffer.readerIndex)
        pendingArgs = -1
    }

    /// Runs `body` over the arguments of the command just parsed.
    public func withArguments<R>(_ buffer: ByteBuffer, _ body: (Arguments) throws -> R) rethrows -> R {
        try argumentsBody(buffer, body)
    }

    /// `withArguments` for a parser kept behind a pointer (Connection.parser), the event loop's
    /// form. Called through `pointee`, the non-mutating form copies the whole parser first (its
    /// arrays retained and released, ~2.6 atomic pairs per command under callgrind): the
    /// pointee could change while `body` runs, so Swift cannot borrow it. Nothing a command
    /// runs touches its connection's parser, so in-place access is safe here.
    @inline(__always)
    public mutating func withArgumentsInPlace<R>(_ buffer: ByteBuffer, _ body: (Arguments) throws -> R) rethrows -> R {
        try argumentsBody(buffer, body)
    }

    @inline(__always)
    private func argumentsBody<R>(_ buffer: ByteBuffer, _ body: (Arguments) throws -> R) rethrows -> R {
        if isInline {
            return try inlineScratch.withUnsafeBufferPointer { scratch in
                try inlineSpans.withUnsafeBufferPointer { sp in
                    try body(Arguments(base: scratch.baseAddress ?? UnsafePointer(buffer.base), spans: UnsafeBufferPointer(rebasing: sp[..<spanCount])))
                }
            }
        }
        return try body(Arguments(base: UnsafePointer(buffer.base), spans: UnsafeBufferPointer(start: spanBase, count: spanCount)))
    }

    // MARK: - Multibulk

    /// Reads the bulks still pending. The progress (scan position, spans, what is pending) is
    /// kept in locals and stored back on every exit: the parser sits behind a pointer, and
    /// writing its fields per argument cost a store and reload each.
    private mutating func continueMultibulk(_ buffer: ByteBuffer) -> ParseOutcome {
        let end = buffer.writerIndex
        let maxBulk = limits.maxBulkLength
        var scan = self.scan, count = spanCount, pending = pendingArgs, length = pendingBulkLength
        defer {
            self.scan = scan
            spanCount = count
            pendingArgs = pending
            pendingBulkLength = length
        }
        while pending > 0 {
            if length < 0 {
                let n: Int64, cr: Int
                switch readLength(buffer, bulk: true, at: scan) {
                case .value(let v, let at): (n, cr) = (v, at)
                case .needMore: return .needMore
                case .error(let message): return .protocolError(message)
                }
                if n < 0 || n > Int64(maxBulk) { return .protocolError("Protocol error: invalid bulk length") }
                if n > 16384 && authRequired {
                    return .protocolError("Protocol error: unauthenticated bulk length")
                }
                length = Int(n)
                scan = cr &+ 2
            }
            // Payload plus its CRLF must be present.
            if end &- scan < length &+ 2 { return .needMore }
            if count == spanCapacity {
                spanStorage.grow(to: count &+ 1, keeping: count)
                spanBase = spanStorage.base
                spanCapacity = spanStorage.capacity
            }
            spanBase[count] = ArgumentSpan(offset: scan, length: length)
            count &+= 1
            scan &+= length &+ 2
            length = -1
            pending &-= 1
        }
        return .command
    }

    // MARK: - Inline

    private mutating func parseInline(_ buffer: ByteBuffer) -> ParseOutcome {
        let base = buffer.base
        let start = buffer.readerIndex
        let end = buffer.writerIndex
        guard let nl = findByte(UInt8(ascii: "\n"), buffer, from: scan) else {
            if end - start > limits.maxInlineLength {
                return .protocolError("Protocol error: too big inline request")
            }
            // Resume the newline search here when more bytes arrive.
            scan = end
            inlinePending = true
            return .needMore
        }
        inlinePending = false
        if nl - start > limits.maxInlineLength {
            return .protocolError("Protocol error: too big inline request")
        }
        var lineEnd = nl
        if lineEnd > start && base[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        isInline = true
        let line = UnsafeRawBufferPointer(start: base + start, count: lineEnd - start)
        guard splitInlineArguments(line) else {
            return .protocolError("Protocol error: unbalanced quotes in request")
        }
        scan = nl + 1
        if spanCount == 0 {
            buffer.consume(scan - buffer.readerIndex)
            isInline = false
            return .empty
        }
        pendingArgs = 0
        return .command
    }

    private mutating func splitInlineArguments(_ line: UnsafeRawBufferPointer) -> Bool {
        inlineSpans.removeAll(keepingCapacity: true)
        let ok = splitArguments(line, into: &inlineScratch, spans: &inlineSpans)
        spanCount = inlineSpans.count
        return ok
    }

    // MARK: - Scanning

    private enum LengthLine {
        case value(Int64, cr: Int)
        case needMore
        case error(String)
    }

    /// The length on the line at `scan` (a '*' count line, or a '$' bulk header when `bulk`):
    /// the digit-only fast path, else the general parse with Redis's error texts. The callers
    /// check the value against the limits, whichever path read it.
    @inline(__always)
    private func readLength(_ buffer: ByteBuffer, bulk: Bool, at scan: Int) -> LengthLine {
        let base = buffer.base
        let end = buffer.writerIndex
        if scan < end && (!bulk || base[scan] == UInt8(ascii: "$")),
           let (v, cr) = RESPParser.quickLength(base, at: scan, end: end) {
            return .value(Int64(v), cr: cr)
        }
        guard let cr = findCR(buffer, from: scan) else {
            if end - scan > limits.maxInlineLength {
                return .error(bulk ? "Protocol error: too big bulk count string" : "Protocol error: too big mbulk count string")
            }
            return .needMore
        }
        if cr + 1 >= end { return .needMore }
        if bulk && base[scan] != UInt8(ascii: "$") {
            return .error("Protocol error: expected '$', got '\(printableChar(base[scan]))'")
        }
        let digits = UnsafeRawBufferPointer(start: base + scan + 1, count: cr - scan - 1)
        guard let n = parseStrictInt64(digits) else {
            return .error(bulk ? "Protocol error: invalid bulk length" : "Protocol error: invalid multibulk length")
        }
        return .value(n, cr: cr)
    }

    /// The length after the type byte at `at` ('*' or '$') when it is plain decimal digits (at
    /// most 10, no leading zero) followed by CRLF inside the buffer: (value, index of the CR).
    /// Per argument this replaces a memchr call and the general integer parser, about a tenth
    /// of a GET's instructions; nil (anything unusual, errors included) sends readLength to
    /// the general path, so what is accepted and the error texts are unchanged.
    @inline(__always)
    static func quickLength(_ base: UnsafeMutablePointer<UInt8>, at: Int, end: Int) -> (Int, Int)? {
        // One or two digits (argument counts, command names, most keys and values): checked
        // directly, without the digit loop.
        if at &+ 4 < end {
            let d0 = base[at &+ 1] &- 48, c1 = base[at &+ 2]
            if d0 <= 9 && c1 == 13 {
                return base[at &+ 3] == 10 ? (Int(d0), at &+ 2) : nil
            }
            let d1 = c1 &- 48
            if d0 != 0 && d0 <= 9 && d1 <= 9 && base[at &+ 3] == 13 {
                return base[at &+ 4] == 10 ? (Int(d0) &* 10 &+ Int(d1), at &+ 3) : nil
            }
        }
        var i = at + 1
        let limit = min(end, at + 11)
        var v = 0
        while i < limit {
            let d = base[i] &- 48
            if d > 9 { break }
            v = v &* 10 &+ Int(d)
            i += 1
        }
        let digits = i - at - 1
        guard digits > 0, i + 1 < end, base[i] == 13, base[i + 1] == 10 else { return nil }
        if digits > 1 && base[at + 1] == 48 { return nil }
        return (v, i)
    }

    @inline(__always)
    private func findCR(_ buffer: ByteBuffer, from: Int) -> Int? {
        findByte(13, buffer, from: from)
    }

    @inline(__always)
    private func findByte(_ byte: UInt8, _ buffer: ByteBuffer, from: Int) -> Int? {
        let count = buffer.writerIndex - from
        if count <= 0 { return nil }
        guard let hit = memchr(buffer.base + from, Int32(byte), count) else { return nil }
        return UnsafeMutableRawPointer(buffer.base).distance(to: hit)
    }
}

private func printableChar(_ c: UInt8) -> String {
    String(decoding: [c], as: UTF8.self)
}
