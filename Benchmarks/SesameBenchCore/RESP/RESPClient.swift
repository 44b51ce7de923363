#if canImport(Glibc)
import Glibc
#endif

// A small synchronous client for control traffic: INFO, DBSIZE, FLUSHALL, probes, and pipelined
// bulk loading. Every wait is a poll() with a timeout, so a server that stops answering turns
// into an error instead of a hang. The load loop does not use this type (see LoadEngine).

public final class RESPClient {
    public let host: String
    public let port: Int
    public let timeoutMillis: Int32
    private var fd: Int32
    private var input: [UInt8] = []
    private var inputStart = 0
    private let parser = RESPReplyParser()

    public init(host: String, port: Int, timeoutMillis: Int32 = 10_000) throws {
        self.host = host
        self.port = port
        self.timeoutMillis = timeoutMillis
        fd = try Sys.connect(host: host, port: port, timeoutMillis: min(timeoutMillis, 5000))
        input.reserveCapacity(64 * 1024)
    }

    deinit { Sys.close(fd) }

    public func close() {
        Sys.close(fd)
        fd = -1
    }

    /// Sends one command and returns its reply (an error reply is returned, not thrown).
    @discardableResult
    public func command(_ arguments: String...) throws -> RESPValue {
        try command(arguments)
    }

    @discardableResult
    public func command(_ arguments: [String]) throws -> RESPValue {
        try send(CommandBuffer.encode(arguments))
        return try readValue()
    }

    /// Writes all of `bytes`, waiting for the socket as needed.
    public func send(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            var waits = 0
            while offset < raw.count {
                switch Sys.write(fd, raw.baseAddress! + offset, raw.count - offset) {
                case .done(let n): offset += n
                case .wouldBlock:
                    waits += 1
                    guard waits < 1_000_000 else { throw BenchError("\(host):\(port): write made no progress") }
                    try wait(for: Int16(POLLOUT))
                case .endOfFile: throw BenchError("\(host):\(port): connection closed")
                case .failed(let code): throw BenchError("\(host):\(port): write: \(errnoText(code))")
                }
            }
        }
    }

    public func send(_ buffer: CommandBuffer) throws { try send(buffer.bytes) }

    /// Reads one reply as a value.
    public func readValue() throws -> RESPValue {
        for _ in 0..<1_000_000 {
            let parsed = try input.withUnsafeBytes { raw -> (value: RESPValue, length: Int)? in
                try parser.parse(UnsafeRawBufferPointer(rebasing: raw[inputStart...]))
            }
            if let parsed {
                consume(parsed.length)
                return parsed.value
            }
            try fill()
        }
        throw BenchError("\(host):\(port): reply too large")
    }

    /// Reads `count` replies without building them; `onReply` sees each summary.
    /// Returns the number of error replies and the first error's text.
    @discardableResult
    public func readReplies(_ count: Int, onReply: ((ReplySummary) -> Void)? = nil) throws -> (errors: Int, firstError: String?) {
        var remaining = count
        var errors = 0
        var firstError: String?
        var fills = 0
        while remaining > 0 {
            let summary = try input.withUnsafeBytes { raw -> ReplySummary? in
                try parser.scan(UnsafeRawBufferPointer(rebasing: raw[inputStart...]))
            }
            if let summary {
                if summary.isError {
                    errors += 1
                    if firstError == nil {
                        firstError = String(decoding: input[(inputStart + 1)..<(inputStart + summary.length - 2)], as: UTF8.self)
                    }
                }
                onReply?(summary)
                consume(summary.length)
                remaining -= 1
            } else {
                fills += 1
                guard fills < 10_000_000 else { throw BenchError("\(host):\(port): too many reads") }
                try fill()
            }
        }
        return (errors, firstError)
    }

    private func consume(_ n: Int) {
        inputStart += n
        if inputStart == input.count {
            input.removeAll(keepingCapacity: true)
            inputStart = 0
        }
    }

    private func fill() throws {
        if inputStart > 0 && inputStart > input.count / 2 {
            input.removeFirst(inputStart)
            inputStart = 0
        }
        let chunk = 64 * 1024
        let old = input.count
        input.append(contentsOf: repeatElement(0, count: chunk))
        var got = 0
        defer { input.removeLast(chunk - got) }
        for _ in 0..<100_000 {
            let result = input.withUnsafeMutableBytes { Sys.read(fd, $0.baseAddress! + old, chunk) }
            switch result {
            case .done(let n): got = n; return
            case .wouldBlock: try wait(for: Int16(POLLIN))
            case .endOfFile: throw BenchError("\(host):\(port): connection closed by server")
            case .failed(let code): throw BenchError("\(host):\(port): read: \(errnoText(code))")
            }
        }
        throw BenchError("\(host):\(port): read made no progress")
    }

    private func wait(for events: Int16) throws {
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        let n = Sys.poll(&pfd, 1, timeoutMillis)
        if n == 0 { throw BenchError("\(host):\(port): no answer within \(timeoutMillis) ms") }
        if n < 0 { throw BenchError("\(host):\(port): poll: \(errnoText(errno))") }
    }

    // MARK: Helpers for the workloads

    /// Fields of `INFO <section>` as a dictionary.
    public func info(_ section: String) throws -> [String: String] {
        let reply = try command("INFO", section)
        guard let text = reply.string, !reply.isError else { throw BenchError("\(host):\(port): INFO \(section) failed: \(reply)") }
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            if let colon = line.firstIndex(of: ":") {
                fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
            }
        }
        return fields
    }

    public func dbsize() throws -> Int {
        let reply = try command("DBSIZE")
        guard let n = reply.integer else { throw BenchError("\(host):\(port): DBSIZE answered \(reply)") }
        return Int(n)
    }

    /// Sends `total` commands produced by `encode` in pipelined batches of `batch`, reading each
    /// batch's replies before the next. `encode` appends command(s) for item i and returns how
    /// many replies they produce. Returns the error count and the first error.
    @discardableResult
    public func pipelined(_ total: Int, batch: Int = 256, encode: (Int, inout CommandBuffer) -> Int) throws -> (errors: Int, firstError: String?) {
        var buffer = CommandBuffer(capacity: 256 * 1024)
        var errors = 0
        var firstError: String?
        var i = 0
        while i < total {
            buffer.removeAll()
            var replies = 0
            let end = min(total, i + batch)
            while i < end {
                replies += encode(i, &buffer)
                i += 1
            }
            try send(buffer)
            let result = try readReplies(replies)
            errors += result.errors
            if firstError == nil { firstError = result.firstError }
        }
        return (errors, firstError)
    }
}
