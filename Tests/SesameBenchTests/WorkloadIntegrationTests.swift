import Foundation
import Synchronization
import Testing
@testable import SesameBenchCore
#if canImport(Sesame)
import Sesame
#endif
#if canImport(Glibc)
import Glibc
#endif

// End-to-end: the harness against real servers. The Sesame test runs the server in process;
// the redis-server test starts a private redis-server on a free port when one is on PATH (and
// fails instead of skipping when CI=true, where redis-server must be installed).

enum TestServers {
    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    static func executableOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// A loopback port that was free a moment ago: from SESAME_BENCH_TEST_PORTS ("lo-hi") when
    /// set (a machine shared with other servers), else one the kernel picks.
    static func freePort() throws -> Int {
        if let text = ProcessInfo.processInfo.environment["SESAME_BENCH_TEST_PORTS"] {
            let bounds = text.split(separator: "-").compactMap { Int($0) }
            guard bounds.count == 2, bounds[0] > 0, bounds[0] <= bounds[1], bounds[1] < 65536 else {
                throw BenchError("SESAME_BENCH_TEST_PORTS: expected lo-hi, got '\(text)'")
            }
            return try freePort(in: bounds[0]...bounds[1])
        }
        return try kernelPort()
    }

    private static let nextInRange = Mutex(0)

    /// A port of `range` that was free a moment ago. Successive calls go round the range, so two
    /// calls in a row (a cluster node's port and bus port) do not get the same one.
    static func freePort(in range: ClosedRange<Int>) throws -> Int {
        for _ in 0..<range.count {
            let port = nextInRange.withLock { n in
                defer { n += 1 }
                return range.lowerBound + n % range.count
            }
            if canBind(port) { return port }
        }
        throw BenchError("no free port in \(range)")
    }

    static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = UInt16(port).bigEndian
        sin.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        return withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func kernelPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket failed") }
        defer { close(fd) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = 0
        sin.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Bool in
                bind(fd, p, length) == 0 && getsockname(fd, p, &length) == 0
            }
        }
        guard bound else { throw BenchError("bind failed") }
        return Int(UInt16(bigEndian: sin.sin_port))
    }

    /// A child process started with posix_spawn and an empty signal mask (Foundation's Process
    /// lets the child inherit the test thread's mask, in which SIGTERM can be blocked).
    final class Child {
        let pid: pid_t
        private var reaped = false

        init(_ path: String, _ arguments: [String]) throws {
            var attr = posix_spawnattr_t()
            posix_spawnattr_init(&attr)
            defer { posix_spawnattr_destroy(&attr) }
            var empty = sigset_t()
            sigemptyset(&empty)
            posix_spawnattr_setsigmask(&attr, &empty)
            var all = sigset_t()
            sigemptyset(&all)
            sigaddset(&all, SIGTERM); sigaddset(&all, SIGINT); sigaddset(&all, SIGPIPE)
            posix_spawnattr_setsigdefault(&attr, &all)
            posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
            let envp: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/local/bin:/usr/bin:/bin"), nil]
            defer { for p in argv + envp { free(p) } }
            var pid = pid_t()
            let rc = posix_spawn(&pid, path, &actions, &attr, argv, envp)
            guard rc == 0 else { throw BenchError("posix_spawn \(path): \(rc)") }
            self.pid = pid
        }

        /// SIGTERM, wait up to 5 s, then SIGKILL.
        func stop() {
            guard !reaped else { return }
            kill(pid, SIGTERM)
            var status: Int32 = 0
            for _ in 0..<500 {
                if waitpid(pid, &status, WNOHANG) == pid { reaped = true; return }
                sleepNanos(10_000_000)
            }
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            reaped = true
        }

        deinit { stop() }
    }

    /// Waits (bounded) until PING answers.
    static func waitForPing(port: Int, seconds: Double = 10) throws {
        let deadline = monotonicNanos() + UInt64(seconds * 1e9)
        var lastError: Error = BenchError("no attempt")
        while monotonicNanos() < deadline {
            do {
                let client = try RESPClient(host: "127.0.0.1", port: port, timeoutMillis: 1000)
                if case .simpleString("PONG") = try client.command("PING") { return }
            } catch {
                lastError = error
            }
            sleepNanos(50_000_000)
        }
        throw BenchError("server on port \(port) did not answer PING: \(lastError)")
    }

    static func sessionOptions(port: Int, pid: Int32? = nil) throws -> BenchOptions {
        var args = ["session", "--server", "test=127.0.0.1:\(port)", "--sessions", "1000", "--connections", "4",
                    "--duration", "2", "--warmup", "0", "--rounds", "1", "--seed", "1"]
        if let pid { args += ["--server-pid", "test=\(pid)"] }
        return try BenchOptions.parse(args)
    }

    static func checkSessionReport(_ report: BenchReport) {
        #expect(report.unavailable.isEmpty, "\(report.unavailable)")
        #expect(report.runs.count == 1)
        guard let run = report.runs.first else { return }
        #expect(run.ops > 0)
        #expect(run.errors == 0, "errors: \(run.errorSamples)")
        #expect(run.operations.map(\.name) == ["validate", "login", "update", "logout", "list"])
        let validate = run.operations[0]
        #expect(validate.ops > run.ops / 2)
        // Preloaded sessions are found: few validations miss (logouts make some).
        #expect(Double(validate.empty) < Double(validate.ops) * 0.2, "\(validate.empty) of \(validate.ops) validations missed")
        #expect(run.latencyMicros.p50 > 0 && run.latencyMicros.p99 >= run.latencyMicros.p50)
        let markdown = ReportRenderer.render(report, format: .markdown)
        #expect(markdown.contains("| session | test |"))
        #expect(SVGChart.chart(for: report).hasPrefix("<svg"))
    }
}

@Suite(.serialized) struct WorkloadIntegrationTests {
    #if canImport(Sesame)
    @Test(.timeLimit(.minutes(1)))
    func sessionWorkloadAgainstInProcessSesame() throws {
        let server = SesameServer(configuration: Configuration(port: 0, threads: 1))
        try server.start()
        let port = server.port
        defer { server.stop() }
        let options = try TestServers.sessionOptions(port: port)
        let report = try BenchRunner.run(options)
        TestServers.checkSessionReport(report)
    }

    /// `--sessions-native`: the same mix through SESSION.* on the same preloaded data.
    @Test(.timeLimit(.minutes(1)))
    func nativeSessionWorkloadAgainstInProcessSesame() throws {
        let server = SesameServer(configuration: Configuration(port: 0, threads: 1))
        try server.start()
        let port = server.port
        defer { server.stop() }
        var options = try TestServers.sessionOptions(port: port)
        options.session.native = true
        let report = try BenchRunner.run(options)
        TestServers.checkSessionReport(report)
        // Every operation type ran, without error replies (checked above).
        #expect(report.runs.first?.operations.allSatisfy { $0.ops > 0 } == true)
    }
    #endif

    @Test(.timeLimit(.minutes(2)))
    func workloadsAgainstRedisServer() throws {
        guard let redis = TestServers.executableOnPath("redis-server") else {
            if TestServers.isCI {
                Issue.record("redis-server is not on PATH, and CI=true requires it")
            } else {
                print("skipping workloadsAgainstRedisServer: redis-server is not on PATH")
            }
            return
        }
        let port = try TestServers.freePort()
        let child = try TestServers.Child(redis, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                                  "--daemonize", "no"])
        defer { child.stop() }
        try TestServers.waitForPing(port: port)
        let pid = child.pid

        // Session workload, with server CPU accounting.
        let report = try BenchRunner.run(try TestServers.sessionOptions(port: port, pid: pid))
        TestServers.checkSessionReport(report)
        let cpu = try #require(report.runs.first?.serverCPUPerOpMicros)
        #expect(cpu > 0 && cpu < 10_000)

        // Every ops family, request-bounded, pipelined.
        let ops = try BenchOptions.parse(["ops", "--server", "redis=127.0.0.1:\(port)", "--keys", "1000", "--requests", "2000",
                                          "--connections", "4", "--threads", "2", "--pipeline", "4", "--rounds", "1"])
        let opsReport = try BenchRunner.run(ops)
        #expect(opsReport.runs.count == CommandFamily.defaults.count)
        for run in opsReport.runs {
            #expect(run.ops == 2000, "\(run.caseName)")
            #expect(run.errors == 0, "\(run.caseName): \(run.errorSamples)")
        }
        let get = try #require(opsReport.runs.first { $0.caseName == "get" })
        #expect(get.operations[0].empty == 0)  // prefilled

        // Open loop at a modest rate: throughput follows the rate.
        let open = try BenchOptions.parse(["ops", "--server", "127.0.0.1:\(port)", "--ops", "ping", "--rate", "2000",
                                           "--duration", "1", "--warmup", "0.2", "--connections", "4", "--rounds", "1"])
        let openReport = try BenchRunner.run(open)
        let rate = try #require(openReport.runs.first?.opsPerSec)
        #expect(rate > 1700 && rate < 2300, "open loop achieved \(rate) ops/s")

        // Native session commands: redis has none, and the harness says so.
        var native = try TestServers.sessionOptions(port: port)
        native.session.native = true
        let nativeReport = try BenchRunner.run(native)
        #expect(nativeReport.runs.isEmpty)
        #expect(nativeReport.unavailable["test"] == "SESSION.* commands not available on test")

        // Memory and expiry, small.
        let load = try BenchOptions.parse(["load", "--server", "r=127.0.0.1:\(port)", "--server-pid", "r=\(pid)", "--sessions", "2000",
                                           "--state-bytes", "100", "--flush"])
        let loadReport = try BenchRunner.run(load)
        let memory = try #require(loadReport.memory.first)
        #expect(memory.keysAfter == 2000 + 400)  // sessions + one set per user
        #expect((memory.usedMemoryPerSession ?? 0) > Double(memory.payloadBytesPerSession) / 2)
        let expiry = try BenchOptions.parse(["expiry", "--server", "r=127.0.0.1:\(port)", "--keys", "2000", "--expire-in", "0.5",
                                             "--expiry-timeout", "20", "--rate", "500", "--connections", "2", "--rounds", "1"])
        let expiryReport = try BenchRunner.run(expiry)
        let record = try #require(expiryReport.expiry.first)
        #expect(record.allGoneMillis != nil)
        #expect((record.traffic?.ops ?? 0) > 0)
        #expect(record.traffic?.errors == 0)
    }

    /// `--plain-validate checked` against a real redis-server on a port in 7600-7699: the whole
    /// harness path (default mix, pipelined connections), then a validate-only run on data where
    /// one user's sessions are past absoluteExpiry, which must end deleted and out of the
    /// user's set while the others are touched; then the engine's follow-ups on their own.
    @Test(.timeLimit(.minutes(1)))
    func checkedValidateAgainstRedisServer() throws {
        guard let redis = TestServers.executableOnPath("redis-server") else {
            if TestServers.isCI {
                Issue.record("redis-server is not on PATH, and CI=true requires it")
            } else {
                print("skipping checkedValidateAgainstRedisServer: redis-server is not on PATH")
            }
            return
        }
        let port = try TestServers.freePort(in: 7600...7699)
        let child = try TestServers.Child(redis, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                                  "--daemonize", "no"])
        defer { child.stop() }
        try TestServers.waitForPing(port: port)

        // 1. The CLI path: every operation type, 4 connections x 4 in flight.
        let options = try BenchOptions.parse([
            "session", "--server", "test=127.0.0.1:\(port)", "--server-pid", "test=\(child.pid)", "--sessions", "1000",
            "--connections", "4", "--pipeline", "4", "--duration", "1.5", "--warmup", "0", "--rounds", "1", "--seed", "1",
            "--flush", "--plain-validate", "checked"])
        let report = try BenchRunner.run(options)
        TestServers.checkSessionReport(report)  // validations > 0, no errors, few misses
        #expect(report.settings["plainValidate"] == "checked")
        #expect(report.runs.first?.operations.allSatisfy { $0.ops > 0 } == true)

        // 2. Validations only, on fresh data where user 0's sessions are past absoluteExpiry.
        let client = try RESPClient(host: "127.0.0.1", port: port)
        _ = try client.command("FLUSHALL")
        var settings = SessionSettings()
        settings.sessions = 1000
        settings.mix = [100, 0, 0, 0, 0]
        settings.plainValidate = .checked
        let table = SessionTable(users: settings.userCount, slotsPerUser: settings.slotsPerUser)
        try SessionWorkload.preload(client, settings: settings, table: table, seed: 5)
        func members(_ user: Int) throws -> [String] {
            try client.command("SMEMBERS", "user_sessions:{\(user)}").elements?.compactMap(\.string).sorted() ?? []
        }
        let expired = try members(0), live = try members(1)
        #expect(expired.count == 5 && live.count == 5)
        let past = String(wallClockMillis() - 1000)
        for key in expired { _ = try client.command("HSET", key, "absoluteExpiry", past) }
        var lastActivity: [String: Int64] = [:]
        for key in live {
            lastActivity[key] = try client.command("HGET", key, "lastActivity").integer
            _ = try client.command("EXPIRE", key, "100")
        }
        var plan = LoadPlan(host: "127.0.0.1", port: port)
        plan.connections = 4
        plan.pipeline = 4
        plan.duration = 1
        plan.warmup = 0
        let outcome = try LoadEngine.run(SessionWorkload(settings: settings, table: table), plan: plan)
        let validations = outcome.counts[0]
        #expect(validations > 0)
        #expect(outcome.totalErrors == 0, "\(outcome.errorSamples)")
        #expect(outcome.totalOps == validations)
        #expect(outcome.histograms[0].count == UInt64(validations))
        // One operation per validation: 1 command when missing (user 0's, once deleted), else 3.
        #expect(outcome.empties[0] > 0)
        #expect(outcome.commands == 3 * validations - 2 * outcome.empties[0], "\(outcome.commands) commands, \(validations) validations, \(outcome.empties[0]) misses")
        for key in expired {
            #expect(try client.command("EXISTS", key).integer == 0, "\(key) still exists")
        }
        #expect(try members(0).isEmpty)
        #expect(try members(1) == live)
        var touched = 0
        for key in live {
            #expect(try client.command("EXISTS", key).integer == 1)
            let ttl = try client.command("TTL", key).integer ?? -2
            let activity = try client.command("HGET", key, "lastActivity").integer ?? 0
            if ttl > 100 && activity > (lastActivity[key] ?? .max) { touched += 1 }
        }
        #expect(touched > 0, "no session of user 1 had its lastActivity and TTL refreshed")

        // 3. The engine alone: PING, then a follow-up BLPOP that blocks 20 ms. Each operation
        // counts once, with both commands, and its latency includes the second round trip.
        plan.pipeline = 3
        let engine = try LoadEngine.run(PingThenBlockWorkload(), plan: plan)
        #expect(engine.totalOps > 0 && engine.totalErrors == 0, "\(engine.errorSamples)")
        #expect(engine.commands == 2 * engine.totalOps)
        #expect(engine.overall.min >= 20_000_000, "fastest operation \(engine.overall.min) ns")
    }
}

/// PING, then (after its +PONG) BLPOP of a key that never exists, with a 20 ms timeout.
struct PingThenBlockWorkload: Workload {
    var operationNames: [String] { ["ping+blpop"] }
    var sendsFollowUps: Bool { true }

    struct Generator: OperationGenerator {
        var n = 0
        mutating func encodeNext(into buffer: inout CommandBuffer) -> (type: Int, replies: Int) {
            buffer.command(["PING"])
            return (0, 1)
        }

        mutating func observeLastReply(type: Int, _ reply: UnsafeRawBufferPointer, followUp: inout CommandBuffer) -> Int {
            guard reply.first == UInt8(ascii: "+") else { return 0 }
            n += 1
            followUp.command(["BLPOP", "never:\(n)", "0.02"])
            return 1
        }
    }

    func makeGenerator(worker: Int, seed: UInt64) -> Generator { Generator() }
}
