// The optional HTTP listener over real sockets: off by default, keep-alive and pipelining,
// limits that answer and close, the bearer token, /healthz, /metrics, and the 501 the session
// endpoints give until the SESSION.* commands are in the build.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Sesame
import Testing

/// A raw HTTP/1.1 client: bytes out, whole responses (by Content-Length) back.
private final class HTTPTestClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { Glibc.close(fd); throw TestFailure("connect: errno \(errno)") }
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) {
        let b = Array(text.utf8)
        _ = b.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// One response: (status, headers lowercased, body), or nil when the server closed.
    func response() throws -> (status: Int, headers: [String: String], body: String)? {
        while true {
            if let end = find([13, 10, 13, 10]) {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let status = Int(lines.removeFirst().split(separator: " ")[1])!
                var headers: [String: String] = [:]
                for l in lines {
                    let p = l.split(separator: ":", maxSplits: 1)
                    headers[p[0].lowercased()] = p[1].trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0")!
                if buffer.count >= end + 4 + length {
                    let body = String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self)
                    buffer.removeFirst(end + 4 + length)
                    return (status, headers, body)
                }
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n == 0 { return nil }
            if n < 0 { throw TestFailure("recv: errno \(errno)") }
            buffer += chunk[0..<n]
        }
    }

    /// A response to HEAD: the header block only.
    func headOnly() throws -> (status: Int, headers: [String: String])? {
        while true {
            if let end = find([13, 10, 13, 10]) {
                let head = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                var lines = head.components(separatedBy: "\r\n")
                let status = Int(lines.removeFirst().split(separator: " ")[1])!
                var headers: [String: String] = [:]
                for l in lines {
                    let p = l.split(separator: ":", maxSplits: 1)
                    headers[p[0].lowercased()] = p[1].trimmingCharacters(in: .whitespaces)
                }
                return (status, headers)
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
        }
    }

    /// True when the server closes the connection with nothing more to read.
    func closedByServer() -> Bool {
        var b = [UInt8](repeating: 0, count: 16)
        return b.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) } == 0
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        for i in 0...(buffer.count - needle.count) where Array(buffer[i..<(i + needle.count)]) == needle { return i }
        return nil
    }
}

@Suite("HTTP listener over TCP", .serialized)
struct HTTPListenerTests {
    func server(token: String? = nil) throws -> SesameServer {
        var cfg = Configuration(port: 0, threads: 1)
        try cfg.set("http-port", ["0"])
        if let token { try cfg.set("http-auth-token", [token]) }
        try cfg.set("http-max-body-bytes", ["1024"])
        let s = SesameServer(configuration: cfg)
        try s.start()
        return s
    }

    @Test("off by default")
    func offByDefault() throws {
        let s = SesameServer(configuration: Configuration(port: 0, threads: 1))
        try s.start()
        defer { s.stop() }
        #expect(s.httpPort == nil)
    }

    @Test("keep-alive and pipelining; /healthz and /metrics; the session endpoints run SESSION.*")
    func keepAlive() throws {
        let s = try server()
        defer { s.stop() }
        let c = try HTTPTestClient(port: s.httpPort!)
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        let h = try c.response()
        #expect(h?.status == 200 && h?.body == #"{"status":"ok"}"#)
        let m = try c.response()
        #expect(m?.status == 200 && m?.headers["content-type"] == "text/plain; version=0.0.4")
        #expect(m?.body.contains("sesame_http_requests_total{code=\"200\"} 1") == true)
        c.send("POST /sessions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"userId\":\"u1\"}")
        let p = try c.response()
        #expect(p?.status == 201 && p?.body.contains(#""sessionId":""#) == true, "\(String(describing: p))")
        c.send("GET /users/u1/sessions HTTP/1.1\r\n\r\n")
        let list = try c.response()
        #expect(list?.status == 200 && list?.body.contains(#""userId":"u1""#) == true, "\(String(describing: list))")
        // HEAD: headers only, so the next response on the connection still frames correctly.
        c.send("HEAD /healthz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n")
        #expect(try c.headOnly()?.headers["content-length"] == "15")
        #expect(try c.response()?.body == #"{"status":"ok"}"#)
        c.send("GET /healthz HTTP/1.0\r\n\r\n")
        let last = try c.response()
        #expect(last?.headers["connection"] == "close")
        #expect(c.closedByServer())
    }

    @Test("limits answer and close: 431 for a huge header, 413 for a large body, 400 for garbage")
    func limits() throws {
        let s = try server()
        defer { s.stop() }
        let a = try HTTPTestClient(port: s.httpPort!)
        a.send("GET /healthz HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 10_000) + "\r\n\r\n")
        #expect(try a.response()?.status == 431)
        #expect(a.closedByServer())
        let b = try HTTPTestClient(port: s.httpPort!)
        b.send("POST /sessions HTTP/1.1\r\nContent-Length: 5000\r\n\r\n")
        #expect(try b.response()?.status == 413)
        #expect(b.closedByServer())
        let c = try HTTPTestClient(port: s.httpPort!)
        c.send("\u{16}\u{3}\u{1}\u{2}\u{0}\r\n\r\n")   // a TLS ClientHello-ish start
        #expect(try c.response()?.status == 400)
        // The server is still fine afterwards.
        let d = try HTTPTestClient(port: s.httpPort!)
        d.send("GET /healthz HTTP/1.1\r\n\r\n")
        #expect(try d.response()?.status == 200)
    }

    @Test("curl, as in docs/SESSIONS.md: /healthz, /metrics with the token, POST /sessions and GET /sessions/{id}",
          .enabled(if: ExternalTools.find("curl") != nil || ExternalTools.isCI, "curl is not on PATH"))
    func curl() throws {
        let curl = try ExternalTools.require(ExternalTools.find("curl"), "curl")
        let s = try server(token: "s3cret")
        defer { s.stop() }
        let base = "http://127.0.0.1:\(s.httpPort!)"
        func run(_ args: [String]) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: curl)
            p.arguments = ["-s", "--max-time", "10", "-w", " %{http_code}"] + args
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        #expect(try run([base + "/healthz"]) == #"{"status":"ok"} 200"#)
        #expect(try run([base + "/metrics"]).hasSuffix(" 401"))
        let metrics = try run(["-H", "Authorization: Bearer s3cret", base + "/metrics"])
        #expect(metrics.contains("# TYPE sesame_expired_keys_total counter") && metrics.hasSuffix(" 200"))
        let create = try run(["-H", "Authorization: Bearer s3cret", "-H", "Content-Type: application/json",
                              "-d", #"{"userId":"u1","idle":1800,"fields":{"role":"user"}}"#, base + "/sessions"])
        #expect(create.hasPrefix(#"{"sessionId":""#) && create.hasSuffix(" 201"), "\(create)")
        // The ID from the reply validates, with the fields given at creation.
        let id = create.split(separator: "\"").dropFirst(3).first.map(String.init) ?? ""
        let validated = try run(["-H", "Authorization: Bearer s3cret", base + "/sessions/" + id])
        #expect(validated.contains(#""role":"user""#) && validated.hasSuffix(" 200"), "\(validated)")
    }

    @Test("http-auth-token: a bearer token for everything but /healthz")
    func token() throws {
        let s = try server(token: "t0ken")
        defer { s.stop() }
        let c = try HTTPTestClient(port: s.httpPort!)
        c.send("GET /metrics HTTP/1.1\r\n\r\n")
        #expect(try c.response()?.status == 401)
        c.send("GET /metrics HTTP/1.1\r\nAuthorization: Bearer t0ken\r\n\r\n")
        #expect(try c.response()?.status == 200)
        c.send("GET /healthz HTTP/1.1\r\n\r\n")
        #expect(try c.response()?.status == 200)
    }
}
