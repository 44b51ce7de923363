// A tiny raw RESP client for tests: a blocking TCP socket with a receive timeout, raw bytes
// out, exactly one complete reply (RESP2 or RESP3 framing) back as its raw bytes. Nothing is
// interpreted beyond framing, so tests can compare replies byte for byte.

#if canImport(Glibc)
import Glibc
#endif

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

final class RESPClient {
    let port: Int
    private(set) var fd: Int32
    private var buffer: [UInt8] = []
    /// Bytes of `buffer` already handed out (compacted lazily).
    private var consumed = 0

    init(port: Int, timeoutSeconds: Int = 5) throws {
        self.port = port
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 {
            let e = errno
            Glibc.close(fd)
            fd = -1
            throw TestFailure("connect to 127.0.0.1:\(port): errno \(e)")
        }
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    // MARK: - Sending

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { p in
                Glibc.send(fd, p.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw TestFailure("send: errno \(errno)")
            }
            sent += n
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(command args: [String]) throws { try send(RESPClient.encode(args)) }

    /// Sends a command and reads its reply.
    @discardableResult
    func call(_ args: String...) throws -> [UInt8] {
        try send(command: args)
        return try readReply()
    }

    func call(args: [String]) throws -> [UInt8] {
        try send(command: args)
        return try readReply()
    }

    static func encode(_ args: [String]) -> [UInt8] {
        encode(args.map { Array($0.utf8) })
    }

    static func encode(_ args: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(args.count)\r\n".utf8)
        for a in args {
            out += Array("$\(a.count)\r\n".utf8)
            out += a
            out += [13, 10]
        }
        return out
    }

    // MARK: - Receiving

    enum ReadOutcome { case data, closed, timeout }

    /// One recv into the buffer.
    private func fill() throws -> ReadOutcome {
        if consumed > 0 && consumed == buffer.count {
            buffer.removeAll(keepingCapacity: true); consumed = 0
        } else if consumed > 1 << 20 {
            buffer.removeFirst(consumed); consumed = 0
        }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 { buffer += chunk[0..<n]; return .data }
            if n == 0 { return .closed }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { return .timeout }
            if errno == ECONNRESET { return .closed }
            throw TestFailure("recv: errno \(errno)")
        }
    }

    /// Reads exactly one complete reply and returns its raw bytes.
    func readReply() throws -> [UInt8] {
        while true {
            if let end = try RESPFraming.replyEnd(buffer, from: consumed) {
                let reply = Array(buffer[consumed..<end])
                consumed = end
                return reply
            }
            switch try fill() {
            case .data: continue
            case .closed:
                throw TestFailure("connection closed with a partial reply: \(printable(Array(buffer[consumed...])))")
            case .timeout:
                throw TestFailure("timed out waiting for a reply; have: \(printable(Array(buffer[consumed...])))")
            }
        }
    }

    func readReplies(_ n: Int) throws -> [[UInt8]] {
        try (0..<n).map { _ in try readReply() }
    }

    /// After a protocol error: true when the server closes the connection (EOF or reset) with
    /// no further bytes within the timeout.
    func waitForClose() throws -> Bool {
        while true {
            if consumed < buffer.count { return false }
            switch try fill() {
            case .data: continue
            case .closed: return true
            case .timeout: return false
            }
        }
    }
}

/// RESP2/RESP3 framing: where the reply starting at `from` ends, or nil when incomplete.
enum RESPFraming {
    static func replyEnd(_ b: [UInt8], from start: Int) throws -> Int? {
        guard start < b.count else { return nil }
        guard let lineEnd = findCRLF(b, start + 1) else { return nil }
        let type = b[start]
        let header = String(decoding: b[(start + 1)..<lineEnd], as: UTF8.self)
        let next = lineEnd + 2
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "_"),
             UInt8(ascii: ","), UInt8(ascii: "#"), UInt8(ascii: "("):
            return next
        case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
            guard let n = Int(header) else { throw TestFailure("bad bulk header \(header)") }
            if n < 0 { return next }
            return b.count >= next + n + 2 ? next + n + 2 : nil
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
            guard var n = Int(header) else { throw TestFailure("bad aggregate header \(header)") }
            if n < 0 { return next }
            if type == UInt8(ascii: "%") || type == UInt8(ascii: "|") { n *= 2 }
            var p = next
            for _ in 0..<n {
                guard let e = try replyEnd(b, from: p) else { return nil }
                p = e
            }
            return p
        default:
            throw TestFailure("unknown reply type byte \(type) in \(printable(Array(b[start...])))")
        }
    }

    static func findCRLF(_ b: [UInt8], _ from: Int) -> Int? {
        var i = from
        while i + 1 < b.count {
            if b[i] == 13 && b[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }
}

/// Escapes bytes for failure messages: printable ASCII as is, the rest as \r \n \xHH.
func printable(_ bytes: [UInt8], limit: Int = 600) -> String {
    var s = ""
    for b in bytes.prefix(limit) {
        switch b {
        case 13: s += "\\r"
        case 10: s += "\\n"
        case 92: s += "\\\\"
        case 32...126: s.unicodeScalars.append(UnicodeScalar(b))
        default:
            let hex = String(b, radix: 16)
            s += "\\x" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    if bytes.count > limit { s += "... (\(bytes.count) bytes)" }
    return s
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
