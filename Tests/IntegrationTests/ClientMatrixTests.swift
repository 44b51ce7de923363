// Real clients and session middlewares, unchanged, against the sesame-server binary: redis-py
// (RESP2 and RESP3), Flask-Session, Django's cache sessions on RedisCache, node-redis,
// redis-benchmark and redis-cli's tool modes. The Python and Node checks live in
// Tests/ClientMatrix/ and print `CLIENTMATRIX PASS <name>` when they pass.
//
// A missing tool or package skips its test locally; with CI=true it is a failure (CI must not
// pass by testing nothing). What CI needs: apt redis-tools node-redis; pip redis flask
// flask-session django.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

@Suite("Client matrix: real clients and session middlewares against sesame-server", .serialized)
struct ClientMatrixTests {

    // MARK: Python

    @Test("redis-py: RESP2 + RESP3 basics, pipelines, MULTI/EXEC, WATCH retry, pub/sub, expired keyspace events",
          .enabled(if: ClientMatrix.python(imports: "redis") || ClientMatrix.isCI,
                   "python3 with redis-py is missing (pip install redis); CI=true makes this a failure"))
    func redisPy() async throws {
        try ClientMatrix.requirePython(imports: "redis")
        let server = try ClientMatrixServer(extraArguments: ["--notify-keyspace-events", "Ex"])
        defer { server.stop() }
        try await ClientMatrix.runCheck("python3", "check_redis_py.py", server: server, marker: "CLIENTMATRIX PASS redis-py")
    }

    @Test("redis-py client-side caching (RESP3, CacheConfig): cached reads, invalidated by writes, DEL, expiry, FLUSHALL",
          .enabled(if: ClientMatrix.python(imports: "redis.cache") || ClientMatrix.isCI,
                   "python3 lacks redis-py >= 5.1 with redis.cache (pip install -U redis); CI=true makes this a failure"))
    func redisPyClientSideCache() async throws {
        try ClientMatrix.requirePython(imports: "redis.cache")
        let server = try ClientMatrixServer()
        defer { server.stop() }
        try await ClientMatrix.runCheck("python3", "check_redis_py_cache.py", server: server, marker: "CLIENTMATRIX PASS redis-py-cache")
    }

    @Test("Flask-Session (SESSION_TYPE=redis): log in, read back, sliding idle expiry via DEBUG ADVANCE-TIME, log out",
          .enabled(if: ClientMatrix.python(imports: "redis, flask, flask_session") || ClientMatrix.isCI,
                   "python3 lacks flask / flask-session / redis (pip install flask flask-session redis); CI=true makes this a failure"))
    func flaskSession() async throws {
        try ClientMatrix.requirePython(imports: "redis, flask, flask_session")
        let server = try ClientMatrixServer()
        defer { server.stop() }
        try await ClientMatrix.runCheck("python3", "check_flask_session.py", server: server, marker: "CLIENTMATRIX PASS flask-session")
    }

    @Test("Django cache sessions on RedisCache: create, load, modify, expiry, flush, cycle_key, set_many/get_many/incr/touch",
          .enabled(if: ClientMatrix.python(imports: "redis, django") || ClientMatrix.isCI,
                   "python3 lacks django / redis (pip install django redis); CI=true makes this a failure"))
    func djangoSessions() async throws {
        try ClientMatrix.requirePython(imports: "redis, django")
        let server = try ClientMatrixServer()
        defer { server.stop() }
        try await ClientMatrix.runCheck("python3", "check_django_sessions.py", server: server, marker: "CLIENTMATRIX PASS django-sessions")
    }

    // MARK: Node

    @Test("node-redis (v4, promises): SET/GET, HSET/HGETALL, MULTI/EXEC, WATCH abort, scanIterator, MGET",
          .enabled(if: ClientMatrix.nodeRedis || ClientMatrix.isCI,
                   "node or node-redis is missing (apt-get install node-redis); CI=true makes this a failure"))
    func nodeRedis() async throws {
        guard ClientMatrix.nodeRedis else {
            throw ClientMatrixFailure("CI=true but node cannot require('redis') (NODE_PATH=\(ClientMatrix.nodePath)): "
                                      + "apt-get install node-redis (and nodejs)")
        }
        let server = try ClientMatrixServer()
        defer { server.stop() }
        try await ClientMatrix.runCheck("node", "check_node_redis.js", server: server, marker: "CLIENTMATRIX PASS node-redis")
    }

    // MARK: redis-benchmark

    @Test("redis-benchmark -t ping,set,get,incr,sadd,hset,spop,mset -n 2000 -q: no errors, a rate for every test",
          .enabled(if: ClientMatrix.find("redis-benchmark") != nil || ClientMatrix.isCI,
                   "redis-benchmark is missing (apt-get install redis-tools); CI=true makes this a failure"))
    func redisBenchmark() async throws {
        let bench = try ClientMatrix.require("redis-benchmark", package: "redis-tools")
        let server = try ClientMatrixServer()
        defer { server.stop() }
        let r = try await ClientMatrix.run([bench, "-h", "127.0.0.1", "-p", "\(server.port)",
                                      "-t", "ping,set,get,incr,sadd,hset,spop,mset", "-n", "2000", "-q"],
                                     timeoutSeconds: 90)
        let out = r.output.replacingOccurrences(of: "\r", with: "\n")
        let context = "redis-benchmark exited \(r.status); output:\n\(ClientMatrix.tail(out))\(server.diagnostics)"
        #expect(r.status == 0, "\(context)")
        #expect(!out.contains("ERR") && !out.contains("Error"), "\(context)")
        for name in ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "SADD", "HSET", "SPOP", "MSET (10 keys)"] {
            let line = out.split(separator: "\n").first { $0.hasPrefix("\(name): ") && $0.contains(" requests per second") }
            #expect(line != nil, "no '\(name): N requests per second' line; \(context)")
        }
    }

    // MARK: redis-cli tool modes

    @Test("redis-cli --scan --pattern 'sess:*', --bigkeys, -3 HGETALL",
          .enabled(if: ClientMatrix.find("redis-cli") != nil || ClientMatrix.isCI,
                   "redis-cli is missing (apt-get install redis-tools); CI=true makes this a failure"))
    func redisCLIKeyspaceModes() async throws {
        let cli = try ClientMatrix.require("redis-cli", package: "redis-tools")
        let server = try ClientMatrixServer()
        defer { server.stop() }
        let p = "\(server.port)"
        // Seed through redis-cli itself: one command per stdin line.
        var seed = (1...25).map { "SET sess:\($0) v\($0)" }
        seed += (1...5).map { "SET other:\($0) x" }
        seed += ["SET sess:big \(String(repeating: "x", count: 500))", "HSET user:1 a 1 b 2", "SADD s1 x y z"]
        let seeded = try await ClientMatrix.run([cli, "-p", p], stdin: seed.joined(separator: "\n") + "\n", timeoutSeconds: 20)
        #expect(seeded.status == 0, "seeding: \(seeded.output)")

        let scan = try await ClientMatrix.run([cli, "-p", p, "--scan", "--pattern", "sess:*"], timeoutSeconds: 20)
        #expect(scan.status == 0, "redis-cli --scan exited \(scan.status): \(scan.output)\(server.diagnostics)")
        let expected = Set((1...25).map { "sess:\($0)" } + ["sess:big"])
        let got = scan.output.split(separator: "\n").map(String.init)
        #expect(Set(got) == expected && got.count == expected.count,
                "--scan --pattern 'sess:*' gave \(got.count) lines: \(ClientMatrix.tail(scan.output))")

        let big = try await ClientMatrix.run([cli, "-p", p, "--bigkeys"], timeoutSeconds: 20)
        #expect(big.status == 0, "redis-cli --bigkeys exited \(big.status): \(ClientMatrix.tail(big.output))\(server.diagnostics)")
        for line in ["Sampled 33 keys in the keyspace!",
                     "Biggest string found '\"sess:big\"' has 500 bytes",
                     "Biggest   hash found '\"user:1\"' has 2 fields",
                     "Biggest    set found '\"s1\"' has 3 members",
                     "31 strings with", "1 hashs with 2 fields", "1 sets with 3 members"] {
            #expect(big.output.contains(line), "--bigkeys output lacks \"\(line)\":\n\(ClientMatrix.tail(big.output))")
        }

        let hgetall = try await ClientMatrix.run([cli, "-p", p, "-3", "--no-raw", "HGETALL", "user:1"], timeoutSeconds: 20)
        #expect(hgetall.status == 0 && hgetall.output == "1# \"a\" => \"1\"\n2# \"b\" => \"2\"\n",
                "redis-cli -3 HGETALL: exit \(hgetall.status), \(hgetall.output)")
    }

    @Test("redis-cli --latency (raw, and the standard display under timeout 3), --stat under timeout 3",
          .enabled(if: ClientMatrix.find("redis-cli") != nil || ClientMatrix.isCI,
                   "redis-cli is missing (apt-get install redis-tools); CI=true makes this a failure"))
    func redisCLIMonitoringModes() async throws {
        let cli = try ClientMatrix.require("redis-cli", package: "redis-tools")
        let timeout = try ClientMatrix.require("timeout", package: "coreutils")
        let stdbuf = try ClientMatrix.require("stdbuf", package: "coreutils")
        let server = try ClientMatrixServer()
        defer { server.stop() }
        let p = "\(server.port)"
        let seeded = try await ClientMatrix.run([cli, "-p", p], stdin: "SET a 1\nSET b 2\nHSET h f v\n", timeoutSeconds: 20)
        #expect(seeded.status == 0, "seeding: \(seeded.output)")

        // Not a tty: raw mode, one "min max avg count" line after about a second, then exit 0.
        let raw = try await ClientMatrix.run([cli, "-p", p, "--latency"], timeoutSeconds: 20)
        let fields = raw.output.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(raw.status == 0 && fields.count == 4 && (Int(fields[3]) ?? 0) > 0,
                "redis-cli --latency (raw) exit \(raw.status): \(raw.output)\(server.diagnostics)")

        // The standard display loops until killed: timeout's 124 is the expected exit.
        let std = try await ClientMatrix.run([timeout, "3", cli, "-p", p, "--no-raw", "--latency"], timeoutSeconds: 20)
        #expect(std.status == 124, "redis-cli --latency exited \(std.status) before the timeout: \(ClientMatrix.tail(std.output))")
        for part in ["min: ", ", max: ", ", avg: ", " samples)"] {
            #expect(std.output.contains(part), "redis-cli --latency output lacks \"\(part)\": \(ClientMatrix.tail(std.output))")
        }

        // --stat loops too; stdbuf -oL so lines are not lost in a pipe buffer when it is killed.
        let stat = try await ClientMatrix.run([timeout, "3", stdbuf, "-oL", cli, "-p", p, "--stat", "-i", "0.5"], timeoutSeconds: 20)
        #expect(stat.status == 124, "redis-cli --stat exited \(stat.status): \(ClientMatrix.tail(stat.output))\(server.diagnostics)")
        let lines = stat.output.split(separator: "\n")
        #expect(lines.first?.hasPrefix("------- data ------") == true, "redis-cli --stat header: \(ClientMatrix.tail(stat.output))")
        #expect(lines.count >= 2 && lines[1].hasPrefix("keys       mem      clients blocked requests"),
                "redis-cli --stat columns: \(ClientMatrix.tail(stat.output))")
        // Data lines: keys (3), mem, clients (at least itself), blocked (0), requests, connections.
        let data = lines.dropFirst(2).map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(data.count >= 3, "fewer than 3 --stat samples in 3 s: \(ClientMatrix.tail(stat.output))")
        for row in data {
            #expect(row.count >= 6 && row[0] == "3" && (Int(row[2]) ?? 0) >= 1 && row[3] == "0",
                    "--stat row \(row.joined(separator: " ")); output: \(ClientMatrix.tail(stat.output))")
        }
    }
}

// MARK: - Support

struct ClientMatrixFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum ClientMatrix {
    static let isCI: Bool = {
        let v = ProcessInfo.processInfo.environment["CI"]?.lowercased()
        return v == "true" || v == "1"
    }()

    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var scriptDirectory: String { packageRoot + "/Tests/ClientMatrix" }

    /// Debian installs node modules (node-redis) outside node's default search path.
    static let nodePath: String = {
        let existing = ProcessInfo.processInfo.environment["NODE_PATH"].map { [$0] } ?? []
        return (existing + ["/usr/share/nodejs", "/usr/lib/nodejs"]).joined(separator: ":")
    }()

    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where access("\(dir)/\(name)", X_OK) == 0 {
            return "\(dir)/\(name)"
        }
        return nil
    }

    static func require(_ tool: String, package: String) throws -> String {
        if let path = find(tool) { return path }
        throw ClientMatrixFailure("\(tool) is not on PATH, but CI=true: apt-get install \(package)")
    }

    /// Whether `python3 -c "import <imports>"` succeeds (probed once per module list).
    static func python(imports: String) -> Bool {
        pythonProbes.withLock { cache in
            if let known = cache[imports] { return known }
            let ok = find("python3") != nil
                && ((try? runBlocking(["python3", "-c", "import \(imports)"], timeoutSeconds: 30))?.status == 0)
            cache[imports] = ok
            return ok
        }
    }

    static func requirePython(imports: String) throws {
        guard python(imports: imports) else {
            let r = try? runBlocking(["python3", "-c", "import \(imports)"], timeoutSeconds: 30)
            throw ClientMatrixFailure("CI=true but python3 cannot import \(imports): \(r?.output ?? "no python3"). "
                                      + "Install with: python3 -m pip install redis flask flask-session django")
        }
    }

    static let nodeRedis: Bool = {
        find("node") != nil
            && ((try? runBlocking(["node", "-e", "require('redis').createClient"], timeoutSeconds: 30))?.status == 0)
    }()

    private static let pythonProbes = ClientMatrixLocked<[String: Bool]>([:])

    struct Result {
        let status: Int32   // exit status, or 128 + signal
        let output: String  // stdout and stderr, interleaved
    }

    /// Runs a program (looked up on PATH unless absolute) with NODE_PATH etc. and `environment`
    /// added; its whole process group is killed (and that is a failure) after `timeoutSeconds`.
    /// Waits by sleeping the task, so a long check does not hold one of the few test threads.
    static func run(_ args: [String], stdin: String? = nil, environment: [String: String] = [:],
                    timeoutSeconds: Double) async throws -> Result {
        let launch = try Launch(args, stdin: stdin, environment: environment)
        defer { launch.cleanUp() }
        return try launch.result(await ClientMatrixChild.waitAsync(launch.pid, seconds: timeoutSeconds), timeoutSeconds)
    }

    /// The blocking form, for the probes in `.enabled(if:)` (which cannot await).
    static func runBlocking(_ args: [String], timeoutSeconds: Double) throws -> Result {
        let launch = try Launch(args, stdin: nil, environment: [:])
        defer { launch.cleanUp() }
        return try launch.result(ClientMatrixChild.wait(launch.pid, seconds: timeoutSeconds), timeoutSeconds)
    }

    /// A started child whose stdout and stderr go to one temporary file.
    private struct Launch {
        let args: [String]
        let pid: pid_t
        let outPath: String
        let inPath: String

        init(_ args: [String], stdin: String?, environment: [String: String]) throws {
            guard let exe = args[0].hasPrefix("/") ? args[0] : find(args[0]) else {
                throw ClientMatrixFailure("\(args[0]) is not on PATH")
            }
            self.args = args
            outPath = NSTemporaryDirectory() + "sesame-cm-\(UUID().uuidString).out"
            inPath = NSTemporaryDirectory() + "sesame-cm-\(UUID().uuidString).in"
            if let stdin {
                guard FileManager.default.createFile(atPath: inPath, contents: Data(stdin.utf8)) else {
                    throw ClientMatrixFailure("cannot write \(inPath)")
                }
            }
            let outFD = open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard outFD >= 0 else {
                unlink(inPath)
                throw ClientMatrixFailure("open \(outPath): errno \(errno)")
            }
            defer { close(outFD) }
            var env = ProcessInfo.processInfo.environment
            env["NODE_PATH"] = nodePath
            env["PYTHONDONTWRITEBYTECODE"] = "1"  // no __pycache__ in the source tree
            env["PYTHONUNBUFFERED"] = "1"
            for (k, v) in environment { env[k] = v }
            do {
                pid = try ClientMatrixChild.spawn([exe] + args.dropFirst(), environment: env,
                                                  stdinPath: stdin == nil ? "/dev/null" : inPath,
                                                  stdoutFD: outFD, stderrFD: outFD)
            } catch {
                unlink(outPath)
                unlink(inPath)
                throw error
            }
        }

        func result(_ status: Int32?, _ timeoutSeconds: Double) throws -> Result {
            let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
            guard let status else {
                throw ClientMatrixFailure("\(args.joined(separator: " ")) was killed after \(timeoutSeconds) s; output:\n\(tail(output))")
            }
            return Result(status: status, output: output)
        }

        func cleanUp() {
            unlink(outPath)
            unlink(inPath)
        }
    }

    /// Runs a check script from Tests/ClientMatrix against `server`; expects exit 0 and its marker.
    static func runCheck(_ interpreter: String, _ script: String, server: ClientMatrixServer, marker: String,
                         sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let r = try await run([interpreter, scriptDirectory + "/" + script],
                        environment: ["SESAME_PORT": "\(server.port)"], timeoutSeconds: 60)
        if ProcessInfo.processInfo.environment["CLIENTMATRIX_VERBOSE"] != nil {
            print("[\(script)] started server in \(String(format: "%.2f", server.startSeconds)) s\n\(r.output)")
        }
        let context = "\(interpreter) \(script) exited \(r.status); output:\n\(tail(r.output))\(server.diagnostics)"
        #expect(r.status == 0, "\(context)", sourceLocation: sourceLocation)
        #expect(r.output.contains(marker), "no '\(marker)'; \(context)", sourceLocation: sourceLocation)
    }

    static func tail(_ s: String, _ limit: Int = 6000) -> String {
        s.count <= limit ? s : "...\n" + String(s.suffix(limit))
    }
}

final class ClientMatrixLocked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// posix_spawn rather than Foundation's Process: children get an empty signal mask and default
/// dispositions (the test runner blocks SIGTERM, which `timeout` relies on), their own process
/// group (a timed-out `timeout redis-cli` is killed whole), no inherited descriptors, and are
/// reaped with waitpid (Process.waitUntilExit waits for grandchildren holding its descriptors).
enum ClientMatrixChild {
    private typealias FileActionInt = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    /// glibc >= 2.34; not imported by the Glibc module, so looked up at run time.
    private static let addCloseFrom: FileActionInt? = {
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(sym, to: FileActionInt.self)
    }()

    static func spawn(_ argv: [String], environment: [String: String], stdinPath: String,
                      stdoutFD: Int32, stderrFD: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutFD, 1)
        posix_spawn_file_actions_adddup2(&actions, stderrFD, 2)
        _ = addCloseFrom?(&actions, 3)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, cEnv)
        guard rc == 0 else { throw ClientMatrixFailure("posix_spawn \(argv[0]): error \(rc)") }
        return pid
    }

    /// The exit status (128 + signal if killed), or nil if still running after `seconds`, in
    /// which case its process group has been killed and it has been reaped.
    static func wait(_ pid: pid_t, seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return decode(status) }
            if r < 0 && errno != EINTR { return -1 }  // ECHILD: reaped elsewhere
            if Date() >= deadline { break }
            usleep(10_000)
        }
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return nil
    }

    static func waitAsync(_ pid: pid_t, seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return decode(status) }
            if r < 0 && errno != EINTR { return -1 }
            if Date() >= deadline { break }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return wait(pid, seconds: 0)  // kills the group and reaps
    }

    static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// The sesame-server binary on a free port (`--port 0`, port read from the ready line on
/// stdout), with DEBUG clock control, stopped by `stop()`, and by `--exit-with-parent` if the
/// test run dies.
final class ClientMatrixServer {
    let port: Int
    /// From spawning to the ready line.
    let startSeconds: Double
    private let pid: pid_t
    private let stdoutFD: Int32
    private let stderrPath: String
    private let stopped = ClientMatrixLocked(false)

    init(extraArguments: [String] = []) throws {
        let exe = try ClientMatrixServer.binary()
        let began = Date()
        stderrPath = NSTemporaryDirectory() + "sesame-cm-\(UUID().uuidString).err"
        let errFD = open(stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard errFD >= 0 else { throw ClientMatrixFailure("open \(stderrPath): errno \(errno)") }
        defer { close(errFD) }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw ClientMatrixFailure("pipe: errno \(errno)") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let args = [exe, "--port", "0", "--exit-with-parent", "--threads", "2",
                    "--enable-debug-command", "yes", "--loglevel", "warning"] + extraArguments
        do {
            pid = try ClientMatrixChild.spawn(args, environment: ProcessInfo.processInfo.environment,
                                         stdinPath: "/dev/null", stdoutFD: fds[1], stderrFD: errFD)
        } catch {
            close(fds[0]); close(fds[1])
            throw error
        }
        close(fds[1])
        stdoutFD = fds[0]
        do {
            let line = try ClientMatrixServer.readLine(stdoutFD, seconds: 20)
            guard let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  json["event"] as? String == "ready", let port = json["port"] as? Int, port > 0
            else { throw ClientMatrixFailure("unexpected first stdout line: \(line)") }
            self.port = port
            startSeconds = Date().timeIntervalSince(began)
        } catch {
            let err = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            _ = ClientMatrixChild.wait(pid, seconds: 0)  // kills and reaps
            close(stdoutFD)
            unlink(stderrPath)
            throw ClientMatrixFailure("\(exe) did not start: \(error); stderr: \(err)")
        }
    }

    /// The server's log (stderr), for failure messages.
    var diagnostics: String {
        let err = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        return err.isEmpty ? "" : "\nsesame-server stderr:\n\(ClientMatrix.tail(err, 3000))"
    }

    /// SIGTERM (a clean shutdown), SIGKILL after 5 s. Idempotent.
    func stop() {
        let first = stopped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        kill(pid, SIGTERM)
        _ = ClientMatrixChild.wait(pid, seconds: 5)
        close(stdoutFD)
        unlink(stderrPath)
    }

    deinit { stop() }

    /// sesame-server from the same build as this test binary (any --scratch-path), else
    /// SESAME_SERVER, else .build/debug (built with `swift build --product sesame-server` if missing).
    static func binary() throws -> String {
        try binaryLock.withLock { cached in
            if let cached { return cached }
            var candidates: [String] = []
            if let own = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
                candidates.append(URL(fileURLWithPath: own).deletingLastPathComponent().path + "/sesame-server")
            }
            if let env = ProcessInfo.processInfo.environment["SESAME_SERVER"] { candidates.append(env) }
            let fallback = ClientMatrix.packageRoot + "/.build/debug/sesame-server"
            candidates.append(fallback)
            if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
                cached = found
                return found
            }
            let built = try ClientMatrix.runBlocking(["swift", "build", "--package-path", ClientMatrix.packageRoot,
                                                      "--product", "sesame-server"], timeoutSeconds: 600)
            guard built.status == 0, FileManager.default.isExecutableFile(atPath: fallback) else {
                throw ClientMatrixFailure("no sesame-server binary and `swift build --product sesame-server` failed: "
                                          + ClientMatrix.tail(built.output))
            }
            cached = fallback
            return fallback
        }
    }

    private static let binaryLock = ClientMatrixLocked<String?>(nil)

    private static func readLine(_ fd: Int32, seconds: Double) throws -> String {
        var bytes: [UInt8] = []
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let left = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            if left == 0 { throw ClientMatrixFailure("no ready line within \(seconds) s (got \"\(String(decoding: bytes, as: UTF8.self))\")") }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let n = poll(&pfd, 1, left)
            if n <= 0 { continue }
            var byte: UInt8 = 0
            let r = read(fd, &byte, 1)
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { throw ClientMatrixFailure("stdout closed before the ready line (\"\(String(decoding: bytes, as: UTF8.self))\")") }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
    }
}
