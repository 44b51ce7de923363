// The smallest blocking RESP client that a toy middleware needs: what an application would
// get from a real Redis client library, written here so the example has no dependencies.

#if canImport(Glibc)
import Glibc
#endif
import Sesame

struct ConnectionError: Error, CustomStringConvertible {
    let description: String
}

final class RedisConnection {
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    let port: Int

    init(port: Int) throws {
        self.port = port
        try connect()
    }

    deinit { if fd >= 0 { close(fd) } }

    func connect() throws {
        if fd >= 0 { close(fd) }
        buffer = []
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 { throw ConnectionError(description: "connect: errno \(errno)") }
    }

    /// Sends one command and reads its reply; a closed connection throws.
    func send(_ args: [String]) throws -> RESPValue {
        var out = Array("*\(args.count)\r\n".utf8)
        for a in args {
            let b = Array(a.utf8)
            out += Array("$\(b.count)\r\n".utf8) + b + [13, 10]
        }
        let sent = out.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if sent != out.count { throw ConnectionError(description: "send failed") }
        while true {
            var i = 0
            if let v = RESPValue.decode(buffer, &i) {
                buffer.removeFirst(i)
                return v
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 4096, 0) }
            if n <= 0 { throw ConnectionError(description: "connection closed") }
            buffer += chunk[0..<n]
        }
    }

    func send(_ args: String...) throws -> RESPValue { try send(args) }
}
