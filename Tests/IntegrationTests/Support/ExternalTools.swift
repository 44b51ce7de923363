// The real redis-server (the reference for differential tests) and redis-cli, as child
// processes. Missing tools skip the tests that need them, except on CI (env CI=true), where a
// missing tool is a failure: CI must never pass by silently testing nothing.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

enum ExternalTools {
    static let isCI: Bool = {
        let v = ProcessInfo.processInfo.environment["CI"]?.lowercased()
        return v == "true" || v == "1"
    }()

    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    static let redisServer = find("redis-server")
    static let redisCLI = find("redis-cli")
    static let script = find("script")

    /// Tests needing a tool run when it is present, and also on CI, where `require` then fails.
    static var redisServerEnabled: Bool { redisServer != nil || isCI }
    static var redisCLIEnabled: Bool { (redisCLI != nil && redisServer != nil) || isCI }

    static func require(_ path: String?, _ name: String) throws -> String {
        if let path { return path }
        throw TestFailure("\(name) is not on PATH, but CI=true: the \(name) tests must run on CI. "
                          + "Install it (apt-get install redis-server / redis-tools).")
    }

    /// A TCP port that was free a moment ago (bind port 0, read it, close).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                bind(fd, sp, len) == 0 && getsockname(fd, sp, &len) == 0
            }
        }
        guard ok else { throw TestFailure("bind/getsockname: errno \(errno)") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// A throwaway redis-server: no persistence, loopback only, killed by `stop()`.
final class RedisServerProcess {
    let port: Int
    private let process: Process

    private init(port: Int, process: Process) {
        self.port = port
        self.process = process
    }

    /// `extraArguments` follow the defaults (a cluster node: --cluster-enabled yes ...).
    static func start(extraArguments: [String] = []) throws -> RedisServerProcess {
        let exe = try ExternalTools.require(ExternalTools.redisServer, "redis-server")
        var lastError: Error = TestFailure("redis-server did not start")
        // The free port can be taken between our probe and redis's bind: retry a few times.
        for _ in 0..<3 {
            let port = try ExternalTools.freePort()
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["--port", "\(port)", "--save", "", "--appendonly", "no", "--bind", "127.0.0.1",
                           "--daemonize", "no", "--logfile", "", "--loglevel", "warning"] + extraArguments
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            p.standardInput = FileHandle.nullDevice
            try p.run()
            let server = RedisServerProcess(port: port, process: p)
            if server.waitUntilReady(seconds: 5) { return server }
            server.stop()
            lastError = TestFailure("redis-server on port \(port) did not answer PING")
        }
        throw lastError
    }

    private func waitUntilReady(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if !process.isRunning { return false }
            if let c = try? RESPClient(port: port, timeoutSeconds: 1),
               let r = try? c.call("PING"), r == bytes("+PONG\r\n") {
                return true
            }
            usleep(20_000)
        }
        return false
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }

    deinit { stop() }
}
