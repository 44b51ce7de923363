// Hostile input, overload and access control, end to end over TCP: every limit with its exact
// error text and the close that follows, maxclients, the output hard limit against a client
// that never reads, idle timeout, requirepass, maxmemory, renamed commands, and protected mode
// exercised for real from a non-loopback peer (a network namespace and veth pair made here).

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Sesame
import Synchronization
import Testing

private let ok = bytes("+OK\r\n")
private let pong = bytes("+PONG\r\n")

/// Polls `body` every 20 ms until it returns true or `seconds` pass.
private func eventually(_ seconds: Double, _ body: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try body() { return true }
        usleep(20_000)
    }
    return try body()
}

/// A field of INFO, read through a client.
private func info(_ c: RESPClient, _ field: String) throws -> String? {
    let raw = try c.call("INFO", "everything")
    let text = String(decoding: raw, as: UTF8.self)
    for line in text.split(separator: "\r\n") where line.hasPrefix(field + ":") {
        return String(line.dropFirst(field.count + 1))
    }
    return nil
}

@Suite("Limits and access control over TCP", .serialized)
struct SecurityLimitTests {
    /// Sends `raw` on a fresh connection; expects exactly `error` back, then the close, while
    /// another client keeps being served.
    private func expectProtocolError(_ server: SesameServer, _ raw: [UInt8], _ error: String,
                                     auth: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bystander = try RESPClient(port: server.port)
        if let auth { #expect(try bystander.call("AUTH", auth) == ok, sourceLocation: sourceLocation) }
        let c = try RESPClient(port: server.port)
        try c.send(raw)
        let reply = try c.readReply()
        #expect(reply == bytes(error), "got \(printable(reply))", sourceLocation: sourceLocation)
        #expect(try c.waitForClose(), "connection stays open after \(error)", sourceLocation: sourceLocation)
        #expect(try bystander.call("PING") == pong, "a bystander was disturbed", sourceLocation: sourceLocation)
    }

    @Test("Oversized bulk, too many arguments, long inline: Redis's errors, then close")
    func requestLimits() throws {
        let server = try SesameServer.start()
        defer { server.stop() }
        try expectProtocolError(server, bytes("*1\r\n$536870913\r\n"), "-ERR Protocol error: invalid bulk length\r\n")
        // 1,048,576 arguments at most (DESIGN.md; Redis 6's limit, Redis 7 allows up to INT_MAX).
        try expectProtocolError(server, bytes("*1048577\r\n"), "-ERR Protocol error: invalid multibulk length\r\n")
        try expectProtocolError(server, bytes("*2\r\n$4\r\nECHO\r\n$-5\r\n"), "-ERR Protocol error: invalid bulk length\r\n")
        try expectProtocolError(server, Array(repeating: UInt8(ascii: "a"), count: 70_000),
                                "-ERR Protocol error: too big inline request\r\n")
        try expectProtocolError(server, bytes("*") + Array(repeating: UInt8(ascii: "9"), count: 70_000),
                                "-ERR Protocol error: too big mbulk count string\r\n")
        try expectProtocolError(server, bytes("*1\r\n") + Array(repeating: UInt8(ascii: "9"), count: 70_000),
                                "-ERR Protocol error: too big bulk count string\r\n")
        try expectProtocolError(server, bytes("*1\r\n!4\r\nPING\r\n"), "-ERR Protocol error: expected '$', got '!'\r\n")
        try expectProtocolError(server, bytes("SET \"unbalanced\r\n"), "-ERR Protocol error: unbalanced quotes in request\r\n")
    }

    @Test("A declared length reserves nothing until its bytes arrive")
    func declaredLengthsAreNotReserved() throws {
        let server = try SesameServer.start()
        defer { server.stop() }
        let before = residentSetSize()
        var hogs: [RESPClient] = []
        for _ in 0..<8 {
            let c = try RESPClient(port: server.port)
            // Largest legal bulk (512 MB) and largest legal argument count, a few bytes each.
            try c.send("*2\r\n$4\r\nECHO\r\n$536870912\r\nabc")
            hogs.append(c)
            let d = try RESPClient(port: server.port)
            try d.send("*1048576\r\n$4\r\nPING\r\n")
            hogs.append(d)
        }
        let other = try RESPClient(port: server.port)
        #expect(try other.call("PING") == pong)
        let grown = residentSetSize() - before
        #expect(grown < 64 << 20, "8 x 512 MB bulk + 8 x 1M-argument headers grew RSS by \(grown >> 20) MB")
        for h in hogs { h.close() }
    }

    @Test("Configured proto-max-bulk-len, and the client-query-buffer-limit directive")
    func configuredBulkLimit() throws {
        let server = try SesameServer.start { try! $0.set("proto-max-bulk-len", ["1mb"]) }
        defer { server.stop() }
        let c = try RESPClient(port: server.port)
        let mb = String(repeating: "x", count: 1 << 20)
        #expect(try c.call("SET", "k", mb) == ok, "exactly the limit is allowed")
        try expectProtocolError(server, bytes("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n"),
                                "-ERR Protocol error: invalid bulk length\r\n")
    }

    @Test("requirepass: NOAUTH, WRONGPASS, unauthenticated limits, failed attempts counted")
    func requirepass() throws {
        let server = try SesameServer.start(requirePass: "s3cret pass")
        defer { server.stop() }
        let c = try RESPClient(port: server.port)
        #expect(try c.call("GET", "k") == bytes("-NOAUTH Authentication required.\r\n"))
        #expect(try c.call("PING") == bytes("-NOAUTH Authentication required.\r\n"))
        #expect(try c.call("AUTH", "wrong") == bytes("-WRONGPASS invalid username-password pair or user is disabled.\r\n"))
        #expect(try c.call("HELLO", "3", "AUTH", "default", "nope") == bytes("-WRONGPASS invalid username-password pair or user is disabled.\r\n"))
        #expect(try c.call("HELLO", "3").starts(with: bytes("-NOAUTH HELLO must be called with the client already authenticated")))
        // Before AUTH, Redis's tighter limits: 10 arguments, 16 KB bulks.
        try expectProtocolError(server, bytes("*11\r\n"), "-ERR Protocol error: unauthenticated multibulk length\r\n",
                                auth: "s3cret pass")
        try expectProtocolError(server, bytes("*2\r\n$4\r\nAUTH\r\n$16385\r\n"), "-ERR Protocol error: unauthenticated bulk length\r\n",
                                auth: "s3cret pass")
        #expect(try c.call("AUTH", "s3cret pass") == ok)
        #expect(try c.call(args: ["MSET"] + (0..<20).map { "k\($0)" }) == ok)
        #expect(try c.call("SET", "big", String(repeating: "b", count: 20_000)) == ok, "limits lift after AUTH")
        #expect(try info(c, "acl_access_denied_auth") == "2")
        // HELLO AUTH on a fresh connection authenticates too.
        let h = try RESPClient(port: server.port)
        #expect(try h.call("HELLO", "2", "AUTH", "default", "s3cret pass").first == UInt8(ascii: "*"))
        #expect(try h.call("GET", "big").count == 20_000 + 10)
    }

    @Test("maxclients: the next connection gets Redis's error and is closed")
    func maxclients() throws {
        let server = try SesameServer.start { $0.maxClients = 3 }
        defer { server.stop() }
        var held: [RESPClient] = []
        for _ in 0..<3 {
            let c = try RESPClient(port: server.port)
            #expect(try c.call("PING") == pong)
            held.append(c)
        }
        for _ in 0..<2 {
            let extra = try RESPClient(port: server.port)
            #expect(try extra.readReply() == bytes("-ERR max number of clients reached\r\n"))
            #expect(try extra.waitForClose())
        }
        #expect(try info(held[0], "rejected_connections") == "2")
        #expect(try info(held[0], "connected_clients") == "3")
        held[2].close()
        held.removeLast()
        #expect(try eventually(3) { try info(held[0], "connected_clients") == "2" })
        let again = try RESPClient(port: server.port)
        #expect(try again.call("PING") == pong, "a freed slot is usable")
    }

    /// A connected socket with a 4 KB receive buffer (so the kernel absorbs little for it).
    private func tinyReceiver(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var small: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        precondition(rc == 0, "connect: errno \(errno)")
        return fd
    }

    /// Reads until the peer closes or 5 s of silence; returns the bytes read and whether it closed.
    private func drain(_ fd: Int32) -> (bytes: Int, closed: Bool) {
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        var total = 0
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 { total += n; continue }
            return (total, n == 0 || errno == ECONNRESET)
        }
    }

    @Test("Output hard limit: a reply the client does not read past it closes the client")
    func outputHardLimit() throws {
        let server = try SesameServer.start { try! $0.set("client-output-buffer-limit", ["normal", "1mb", "0", "0"]) }
        defer { server.stop() }
        let observer = try RESPClient(port: server.port)
        #expect(try observer.call("SET", "big", String(repeating: "v", count: 8 << 20)) == ok)
        let hog = tinyReceiver(server.port)
        defer { close(hog) }
        let request = RESPClient.encode(["GET", "big"]) + RESPClient.encode(["GET", "big"])
        _ = request.withUnsafeBytes { send(hog, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        #expect(try eventually(10) { try info(observer, "connected_clients") == "1" }, "the hog was never disconnected")
        #expect(try observer.call("PING") == pong)
        let (received, closed) = drain(hog)
        #expect(closed)
        #expect(received < 8 << 20, "the whole 8 MB reply arrived: \(received) bytes")
    }

    @Test("Clients that never read cannot grow server memory: reading pauses at the soft limit")
    func neverReadingClientIsBounded() throws {
        let server = try SesameServer.start { try! $0.set("client-output-buffer-limit", ["normal", "4mb", "0", "0"]) }
        defer { server.stop() }
        let observer = try RESPClient(port: server.port)
        #expect(try observer.call("SET", "big", String(repeating: "v", count: 256 * 1024)) == ok)
        let before = residentSetSize()
        var hogs: [Int32] = []
        for _ in 0..<4 {
            let hog = tinyReceiver(server.port)
            hogs.append(hog)
            // 1,000 GETs: 256 MB of replies if the server kept producing them.
            let request = (0..<1000).flatMap { _ in RESPClient.encode(["GET", "big"]) }
            _ = request.withUnsafeBytes { send(hog, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        defer { for h in hogs { close(h) } }
        usleep(500_000)
        #expect(try observer.call("PING") == pong)
        let grown = residentSetSize() - before
        #expect(grown < 64 << 20, "4 clients that never read grew RSS by \(grown >> 20) MB")
        // Either reading resumed as the client drained (every reply arrives), or the output
        // passed the hard limit (here equal to the soft one) while paused and it was closed.
        let (received, closed) = drain(hogs[0])
        #expect(received == 1000 * (256 * 1024 + 11) || (closed && received < 16 << 20), "received \(received), closed \(closed)")
    }

    @Test("Slow clients (a byte at a time, a bulk never finished) tie up neither the loop nor the key's shard lock")
    func slowClients() throws {
        // One event loop: if a slow client blocked it, or held the shard lock of its key while
        // waiting for bytes, the fast client below (same loop, same key) would stall.
        let server = try SesameServer.start(threads: 1)
        defer { server.stop() }
        let unfinished = try RESPClient(port: server.port, timeoutSeconds: 10)
        try unfinished.send("*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$100000\r\nabc")  // never completed
        let dribbler = try RESPClient(port: server.port, timeoutSeconds: 10)
        let command = Array("*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$5\r\nvalue\r\n".utf8)
        let fast = try RESPClient(port: server.port, timeoutSeconds: 2)
        var slowest = 0.0
        for (i, byte) in command.enumerated() {
            try dribbler.send([byte])
            if i == command.count - 1 { break }  // the dribbled SET now runs
            // Between two bytes of the dribbler, the fast client runs commands on the same key.
            let t0 = Date()
            #expect(try fast.call("SET", "slow", "fast-\(i)") == ok)
            #expect(try fast.call("GET", "slow") == bytes("$\("fast-\(i)".count)\r\nfast-\(i)\r\n"))
            slowest = max(slowest, Date().timeIntervalSince(t0))
            usleep(20_000)
        }
        #expect(slowest < 1.0, "a fast client waited \(slowest) s behind slow ones")
        // The dribbled command completes and runs once its last byte arrives.
        #expect(try dribbler.readReply() == ok)
        #expect(try fast.call("GET", "slow") == bytes("$5\r\nvalue\r\n"))
        // The unfinished bulk still holds nothing: its connection is served as soon as it ends it.
        try unfinished.send(Array(repeating: UInt8(ascii: "x"), count: 100_000 - 3) + Array("\r\n".utf8))
        #expect(try unfinished.readReply() == ok)
        #expect(try fast.call("STRLEN", "slow") == bytes(":100000\r\n"))
    }

    @Test("timeout: an idle client is closed, an active one is not")
    func idleTimeout() throws {
        let server = try SesameServer.start { $0.idleTimeoutSeconds = 2 }
        defer { server.stop() }
        let idle = try RESPClient(port: server.port, timeoutSeconds: 4)
        let active = try RESPClient(port: server.port, timeoutSeconds: 4)
        #expect(try idle.call("PING") == pong)
        #expect(try active.call("PING") == pong)
        server.clock.advance(by: .milliseconds(1500))
        #expect(try active.call("PING") == pong)
        usleep(1_200_000)  // an idle check runs at least once a second
        #expect(try idle.call("PING") == pong, "1.5 s idle is under the 2 s timeout")
        server.clock.advance(by: .seconds(3))
        #expect(try idle.waitForClose(), "idle past the timeout but still open")
    }

    @Test("maxmemory: -OOM under noeviction, evictions counted under allkeys-lru")
    func maxmemory() throws {
        let strict = try SesameServer.start { try! $0.set("maxmemory", ["1"]) }
        defer { strict.stop() }
        let c = try RESPClient(port: strict.port)
        #expect(try c.call("SET", "k", "v") == ok, "an empty key space is under any limit")
        #expect(try c.call("SET", "k2", "v") == bytes("-OOM command not allowed when used memory > 'maxmemory'.\r\n"))
        #expect(try c.call("HSET", "h", "f", "v") == bytes("-OOM command not allowed when used memory > 'maxmemory'.\r\n"))
        #expect(try c.call("GET", "k") == bytes("$1\r\nv\r\n"))
        #expect(try c.call("DEL", "k") == bytes(":1\r\n"))
        #expect(try info(c, "maxmemory") == "1")
        #expect(try info(c, "maxmemory_policy") == "noeviction")

        let lru = try SesameServer.start {
            try! $0.set("maxmemory", ["100kb"])
            try! $0.set("maxmemory-policy", ["allkeys-lru"])
        }
        defer { lru.stop() }
        let l = try RESPClient(port: lru.port)
        let value = String(repeating: "s", count: 300)
        var pipeline: [UInt8] = []
        for i in 0..<2000 { pipeline += RESPClient.encode(["SET", "sess:\(i)", value, "EX", "1800"]) }
        try l.send(pipeline)
        for _ in 0..<2000 { #expect(try l.readReply() == ok) }
        let evicted = Int(try info(l, "evicted_keys") ?? "") ?? 0
        let keys = Int(String(decoding: try l.call("DBSIZE").dropFirst().dropLast(2), as: UTF8.self)) ?? -1
        #expect(evicted > 1000)
        #expect(keys + evicted == 2000)
        #expect(Int(try info(l, "used_memory_dataset") ?? "") ?? .max <= 100 * 1024 + 4096 * 256)
    }

    @Test("rename-command: disabled and renamed commands over the wire")
    func renamedCommands() throws {
        let server = try SesameServer.start {
            try! $0.set("rename-command", ["FLUSHALL", ""])
            try! $0.set("rename-command", ["CONFIG", "cfg-7d1e"])
        }
        defer { server.stop() }
        let c = try RESPClient(port: server.port)
        #expect(try c.call("SET", "k", "v") == ok)
        #expect(try c.call("FLUSHALL") == bytes("-ERR unknown command 'FLUSHALL', with args beginning with: \r\n"))
        #expect(try c.call("CONFIG", "GET", "port") == bytes("-ERR unknown command 'CONFIG', with args beginning with: 'GET' 'port' \r\n"))
        #expect(try c.call("cfg-7d1e", "GET", "databases") == bytes("*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"))
        #expect(try c.call("DBSIZE") == bytes(":1\r\n"))
    }
}

// MARK: - Protected mode from a real non-loopback peer

/// A network namespace joined to the host by a veth pair: host side 10.200.N.1/30, namespace
/// side 10.200.N.2/30. Made and removed by the test; never touches any other interface.
private final class VethNamespace {
    let name: String
    let hostInterface: String
    let hostAddress: String
    let peerAddress: String
    private var created = false

    init() {
        let pid = Int(getpid())
        let n = pid % 250 + 1
        name = "sesame-sec-\(pid)"
        hostInterface = "sesvh\(pid % 100_000)"
        hostAddress = "10.200.\(n).1"
        peerAddress = "10.200.\(n).2"
    }

    /// Runs a command; returns (exit status, stdout, stderr).
    @discardableResult
    static func run(_ args: [String], input: String? = nil) -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0])
        p.arguments = Array(args.dropFirst())
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return (-1, "", "\(error)") }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    static var ip: String? {
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { access($0, X_OK) == 0 }
    }

    /// Creates everything, or returns why it could not (permissions, no netns support).
    func create() -> String? {
        guard let ip = VethNamespace.ip else { return "the ip command (iproute2) is not installed" }
        guard access("/usr/bin/python3", X_OK) == 0 else { return "/usr/bin/python3 is needed for the peer" }
        let peerInterface = "sesvp\(getpid() % 100_000)"
        let steps: [[String]] = [
            [ip, "netns", "add", name],
            [ip, "link", "add", hostInterface, "type", "veth", "peer", "name", peerInterface],
            [ip, "link", "set", peerInterface, "netns", name],
            [ip, "addr", "add", "\(hostAddress)/30", "dev", hostInterface],
            [ip, "link", "set", hostInterface, "up"],
            [ip, "netns", "exec", name, ip, "addr", "add", "\(peerAddress)/30", "dev", peerInterface],
            [ip, "netns", "exec", name, ip, "link", "set", peerInterface, "up"],
            [ip, "netns", "exec", name, ip, "link", "set", "lo", "up"],
        ]
        for (i, step) in steps.enumerated() {
            let r = VethNamespace.run(step)
            if i == 0 && r.status == 0 { created = true }
            if r.status != 0 {
                destroy()
                return "`\(step.joined(separator: " "))` failed (\(r.status)): \(r.err.trimmingCharacters(in: .whitespacesAndNewlines))"
            }
        }
        return nil
    }

    func destroy() {
        guard let ip = VethNamespace.ip else { return }
        // Deleting the host end removes the pair; deleting the namespace removes the rest.
        VethNamespace.run([ip, "link", "del", hostInterface])
        if created { VethNamespace.run([ip, "netns", "del", name]) }
        created = false
    }

    deinit { destroy() }

    /// From inside the namespace: connect to host:port, send `payload`, read until the server
    /// closes or 3 s of silence. Returns what arrived and how it ended (EOF, RESET, TIMEOUT).
    func exchange(port: Int, payload: [UInt8]) -> (bytes: [UInt8], end: String, error: String?) {
        let script = """
        import socket, sys
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
        s.sendall(bytes.fromhex(sys.argv[3]))
        data, end = b"", "TIMEOUT"
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    end = "EOF"
                    break
                data += b
        except socket.timeout:
            pass
        except ConnectionResetError:
            end = "RESET"
        print(end)
        print(data.hex())
        """
        let hex = payload.map { String(format: "%02x", $0) }.joined()
        let r = VethNamespace.run([VethNamespace.ip!, "netns", "exec", name, "/usr/bin/python3", "-c", script,
                                   hostAddress, "\(port)", hex])
        guard r.status == 0 else { return ([], "", "peer failed (\(r.status)): \(r.err)") }
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2 else { return ([], "", "unexpected peer output: \(r.out)") }
        var data: [UInt8] = []
        var i = lines[1].startIndex
        while i < lines[1].endIndex, let j = lines[1].index(i, offsetBy: 2, limitedBy: lines[1].endIndex),
              let b = UInt8(lines[1][i..<j], radix: 16) {
            data.append(b)
            i = j
        }
        return (data, String(lines[0]), nil)
    }
}

@Suite("Protected mode from a non-loopback peer (network namespace)", .serialized)
struct ProtectedModeTests {
    static let denied = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"

    private func start(_ ns: VethNamespace, requirePass: String? = nil, protectedMode: Bool = true) throws -> SesameServer {
        try SesameServer.start(requirePass: requirePass) { c in
            c.bindAddresses = ["127.0.0.1", ns.hostAddress]
            c.protectedMode = protectedMode
        }
    }

    @Test("DENIED and close for a non-loopback peer without a password; NOAUTH flow with one")
    func protectedMode() throws {
        let ns = VethNamespace()
        if let reason = ns.create() {
            try Test.cancel("Skipped: cannot make a network namespace here: \(reason)")
        }
        defer { ns.destroy() }

        // No password, protected mode on (the default): the peer is refused, loopback is not.
        do {
            let server = try start(ns)
            defer { server.stop() }
            #expect(server.boundAddresses.contains(ns.hostAddress))
            let r = ns.exchange(port: server.port, payload: [])
            #expect(r.error == nil, "\(r.error ?? "")")
            #expect(String(decoding: r.bytes, as: UTF8.self) == ProtectedModeTests.denied)
            #expect(r.end == "EOF" || r.end == "RESET", "the connection was not closed: \(r.end)")
            let local = try RESPClient(port: server.port)
            #expect(try local.call("PING") == pong, "loopback clients are served")
            // Even a command sent at once gets only the refusal.
            let withCommand = ns.exchange(port: server.port, payload: bytes("PING\r\n"))
            #expect(String(decoding: withCommand.bytes, as: UTF8.self) == ProtectedModeTests.denied)
        }

        // With a password: the peer is accepted and must authenticate.
        do {
            let server = try start(ns, requirePass: "ns-s3cret")
            defer { server.stop() }
            let payload = RESPClient.encode(["PING"]) + RESPClient.encode(["AUTH", "wrong"])
                + RESPClient.encode(["AUTH", "ns-s3cret"]) + RESPClient.encode(["PING"]) + RESPClient.encode(["QUIT"])
            let r = ns.exchange(port: server.port, payload: payload)
            #expect(r.error == nil, "\(r.error ?? "")")
            #expect(String(decoding: r.bytes, as: UTF8.self) ==
                    "-NOAUTH Authentication required.\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n+PONG\r\n+OK\r\n")
            #expect(r.end == "EOF")
        }

        // protected-mode no: the operator's explicit choice lets the peer in without a password.
        do {
            let server = try start(ns, protectedMode: false)
            defer { server.stop() }
            let r = ns.exchange(port: server.port, payload: RESPClient.encode(["PING"]) + RESPClient.encode(["QUIT"]))
            #expect(String(decoding: r.bytes, as: UTF8.self) == "+PONG\r\n+OK\r\n")
        }
    }
}
