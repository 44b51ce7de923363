// Append-only file persistence (docs/PERSISTENCE.md): restart, crash, truncation, corruption,
// rewrite under load, disk full, and the migration paths to and from redis-server 7.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Sesame
import Synchronization
import Testing

/// A fresh directory, removed by `remove()`.
struct TempDir {
    let path: String
    init() {
        var template = Array((NSTemporaryDirectory() + "sesame-aof-XXXXXX").utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String = "appendonly.aof") -> String { path + "/" + name }
}

enum AOFTest {
    /// An in-process server persisting to `dir` on the system clock (TTL deadlines are absolute).
    static func server(_ dir: String, fsync: AppendFsync = .always, threads: Int = 2,
                       configure: (inout Configuration) -> Void = { _ in }) throws -> SesameServer {
        var config = Configuration(port: 0, threads: threads)
        config.bindAddresses = ["127.0.0.1"]
        config.logLevel = .nothing
        config.appendOnly = true
        config.appendFsync = fsync
        config.dir = dir
        configure(&config)
        let s = SesameServer(configuration: config, clock: SystemClock())
        try s.start()
        return s
    }

    static func value(_ raw: [UInt8]) throws -> RESPValue { try RESPValue.parse(raw) }

    /// Every key of every database with its type, value (sorted where unordered) and absolute
    /// deadline (PEXPIRETIME): equal dumps mean equal data, TTLs included.
    static func dump(port: Int, databases: Int = 16) throws -> [String] {
        let c = try RESPClient(port: port, timeoutSeconds: 10)
        var lines: [String] = []
        for db in 0..<databases {
            _ = try c.call("SELECT", "\(db)")
            guard case .array(let keys) = try value(c.call("KEYS", "*")) else { continue }
            for k in keys {
                let key = k.string ?? ""
                let type = try value(c.call("TYPE", key)).string ?? "?"
                var v = ""
                switch type {
                case "string": v = try value(c.call("GET", key)).string ?? "nil"
                case "hash": v = try value(c.call("HGETALL", key)).canonical(pairs: true)
                case "set": v = try value(c.call("SMEMBERS", key)).canonical(pairs: false)
                default: v = "?"
                }
                let deadline = try value(c.call("PEXPIRETIME", key))
                lines.append("\(db) \(key) \(type) \(v) \(deadline)")
            }
        }
        return lines.sorted()
    }

    /// Session-like data in several databases: strings, hashes, sets, TTLs set every way.
    static func populate(port: Int) throws {
        let c = try RESPClient(port: port)
        let commands: [[String]] = [
            ["SET", "plain", "v"],
            ["SET", "sess:{1}", "data", "EX", "3600"],
            ["SETEX", "sess:{2}", "1800", "x"],
            ["PSETEX", "sess:{3}", "900000", "y"],
            ["HSET", "h:{1}", "user", "42", "csrf", "abc", "ts", "1700000000"],
            ["EXPIRE", "h:{1}", "7200"],
            ["SADD", "user_sessions:{42}", "s1", "s2", "s3", "s4"],
            ["SREM", "user_sessions:{42}", "s4"],
            ["SPOP", "user_sessions:{42}"],
            ["INCRBYFLOAT", "float", "1.25"],
            ["HINCRBYFLOAT", "h:{1}", "score", "0.5"],
            ["INCR", "counter"], ["INCR", "counter"],
            ["SET", "gone", "1"], ["DEL", "gone"],
            ["SET", "persisted", "1", "PX", "50000"], ["PERSIST", "persisted"],
            ["SET", "at", "1", "PXAT", "\(Int64(Date().timeIntervalSince1970 * 1000) + 123_456)"],
            ["GETEX", "plain", "EX", "500"],
            ["SELECT", "3"],
            ["HSET", "db3hash", "f", "v"],
            ["SET", "db3", "x", "KEEPTTL"],
            ["MULTI"], ["SET", "tx:{1}", "a"], ["SADD", "txset:{1}", "m"], ["SET", "tx:{1}:ttl", "v", "EX", "100"],
            ["HINCRBYFLOAT", "txh:{1}", "f", "1.5"], ["SELECT", "5"], ["SET", "in5", "x"], ["EXEC"],
            ["SELECT", "3"],
            ["SELECT", "0"],
            ["RENAME", "counter", "counter2"],
            ["MSET", "m1", "1", "m2", "2"],
        ]
        for cmd in commands {
            let reply = try c.call(args: cmd)
            #expect(reply.first != UInt8(ascii: "-"), "\(cmd): \(printable(reply))")
        }
        // A big hash and set (table form, several HSET/SADD per key after a rewrite).
        var hset = ["HSET", "bighash"], sadd = ["SADD", "bigset"]
        for i in 0..<300 { hset += ["f\(i)", "v\(i)"]; sadd.append("m\(i)") }
        _ = try c.call(args: hset)
        _ = try c.call(args: sadd)
    }
}

@Suite("Append-only file", .serialized)
struct PersistenceTests {
    @Test("restart keeps every key, field, member and absolute TTL; also after BGREWRITEAOF")
    func restartKeepsData() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let a = try AOFTest.server(dir.path)
        try AOFTest.populate(port: a.port)
        let before = try AOFTest.dump(port: a.port)
        #expect(before.count > 10)
        a.stop()

        let b = try AOFTest.server(dir.path)
        #expect(try AOFTest.dump(port: b.port) == before)
        // Compact, restart again: same data from the rewritten file.
        let c = try RESPClient(port: b.port)
        #expect(try c.call("BGREWRITEAOF") == bytes("+Background append only file rewriting started\r\n"))
        try waitForRewrite(port: b.port)
        _ = try c.call("SET", "after-rewrite", "1")
        let afterRewrite = try AOFTest.dump(port: b.port)
        b.stop()
        let text = try String(contentsOfFile: dir.file(), encoding: .isoLatin1)
        #expect(!text.contains("SETEX") && !text.contains("INCRBYFLOAT") && !text.contains("SPOP"))

        let d = try AOFTest.server(dir.path)
        defer { d.stop() }
        #expect(try AOFTest.dump(port: d.port) == afterRewrite)
    }

    @Test("only changes are logged, relative TTLs become absolute, expirations become DEL")
    func logForm() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let s = try AOFTest.server(dir.path)
        let c = try RESPClient(port: s.port)
        _ = try c.call("DEL", "missing")
        _ = try c.call("SREM", "missing", "x")
        _ = try c.call("EXPIRE", "missing", "10")
        _ = try c.call("GET", "nothing")
        _ = try c.call("SET", "k", "v", "PX", "30000")
        _ = try c.call("EXPIRE", "k", "100")
        _ = try c.call("MULTI"); _ = try c.call("SET", "t1", "a", "EX", "100"); _ = try c.call("INCR", "t2")
        _ = try c.call("DEL", "missing-in-tx"); _ = try c.call("EXEC")
        _ = try c.call("SET", "short", "v", "PX", "1")
        usleep(50_000)
        _ = try c.call("GET", "short")  // lazy expiry: logged as DEL
        s.stop()
        let text = try String(contentsOfFile: dir.file(), encoding: .utf8)
        #expect(!text.contains("missing"))
        #expect(!text.contains("EXPIRE\r\n") && !text.contains("$6\r\nexpire"))
        #expect(text.contains("PEXPIREAT\r\n$1\r\nk\r\n"))
        #expect(text.contains("*2\r\n$3\r\nDEL\r\n$5\r\nshort\r\n"))
        #expect(text.hasPrefix("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"))
        // The transaction is one contiguous unit holding only what changed data.
        #expect(text.contains("*1\r\n$5\r\nMULTI\r\n*5\r\n$3\r\nSET\r\n$2\r\nt1\r\n$1\r\na\r\n$4\r\nPXAT\r\n"))
        #expect(text.contains("*2\r\n$4\r\nINCR\r\n$2\r\nt2\r\n*1\r\n$4\r\nEXEC\r\n"))
    }

    @Test("a last command cut at any byte loads cleanly and the file is truncated to the last whole command")
    func truncationAtEveryByte() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let s = try AOFTest.server(dir.path)
        let c = try RESPClient(port: s.port)
        _ = try c.call("SET", "first", "1")
        _ = try c.call("HSET", "h", "f", "v")
        s.stop()
        let good = try Data(contentsOf: URL(fileURLWithPath: dir.file()))
        let last = Data(RESPClient.encode(["SET", "last", "value"]))
        let transaction = Data(RESPClient.encode(["MULTI"]) + RESPClient.encode(["SET", "tx", "1"]) + RESPClient.encode(["EXEC"]))
        for tail in [last, transaction] {
            for cut in 0..<tail.count {
                try (good + tail.prefix(cut)).write(to: URL(fileURLWithPath: dir.file()))
                let t = try AOFTest.server(dir.path, threads: 1)
                let keys = try AOFTest.dump(port: t.port)
                t.stop()
                #expect(keys.count == 2, "cut at \(cut): \(keys)")
                let size = (try FileManager.default.attributesOfItem(atPath: dir.file())[.size] as? Int) ?? -1
                #expect(size == good.count, "cut at \(cut): file is \(size) bytes, expected \(good.count)")
            }
        }
        // The whole tail loads.
        try (good + last).write(to: URL(fileURLWithPath: dir.file()))
        let t = try AOFTest.server(dir.path, threads: 1)
        #expect(try AOFTest.dump(port: t.port).count == 3)
        t.stop()
    }

    @Test("corruption in the middle refuses to start, naming the byte offset")
    func corruptionRefused() throws {
        let dir = TempDir()
        defer { dir.remove() }
        var bytes = RESPClient.encode(["SET", "a", "1"])
        let offset = bytes.count
        bytes += Array("*3\r\n$3\r\nSET\r\nXX1\r\n".utf8) + RESPClient.encode(["SET", "b", "2"])
        try Data(bytes).write(to: URL(fileURLWithPath: dir.file()))
        do {
            let s = try AOFTest.server(dir.path)
            s.stop()
            Issue.record("a corrupt file was loaded")
        } catch let e as AOFLoadError {
            #expect(e.description.contains("Bad file format"))
            #expect(e.description.contains("offset \(offset + 13)"), "\(e.description)")
            #expect(e.description.contains("redis-check-aof --fix"))
        }
        // With aof-load-truncated no, a cut tail refuses too.
        try Data(RESPClient.encode(["SET", "a", "1"]) + Array("*3\r\n$3\r\nSE".utf8)).write(to: URL(fileURLWithPath: dir.file()))
        #expect(throws: AOFLoadError.self) {
            let s = try AOFTest.server(dir.path) { $0.aofLoadTruncated = false }
            s.stop()
        }
    }

    @Test("BGREWRITEAOF under concurrent writes loses nothing")
    func rewriteUnderLoad() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let s = try AOFTest.server(dir.path, fsync: .everysec)
        let shared = LoadFlags()

        let port = s.port
        var threads: [Thread] = []
        for w in 0..<4 {
            let t = Thread {
                guard let c = try? RESPClient(port: port) else { shared.failures.add(1, ordering: .relaxed); return }
                var i = 0
                while !shared.stop.load(ordering: .relaxed) {
                    i += 1
                    let ok = (try? c.call("INCR", "counter:{\(w)}")) != nil
                        && (try? c.call("HSET", "sess:{\(w)}:\(i % 50)", "n", "\(i)")) != nil
                        && (try? c.call("SADD", "set:{\(w)}", "m\(i % 200)")) != nil
                        && (try? c.call("SET", "ttl:\(w):\(i % 30)", "\(i)", "EX", "1000")) != nil
                        // One key written by every loop: its last value after a restart shows
                        // the file kept the order the clients observed.
                        && (try? c.call("SET", "shared", "\(w):\(i)")) != nil
                        && (try? c.call("HSET", "shared-hash", "f\(i % 3)", "\(w):\(i)")) != nil
                    if !ok { shared.failures.add(1, ordering: .relaxed); return }
                }
            }
            threads.append(t)
            t.start()
        }
        let c = try RESPClient(port: port)
        for _ in 0..<4 {
            usleep(150_000)
            _ = try c.call("BGREWRITEAOF")
            try waitForRewrite(port: port)
        }
        usleep(100_000)
        shared.stop.store(true, ordering: .relaxed)
        while threads.contains(where: { !$0.isFinished }) { usleep(10_000) }
        #expect(shared.failures.load(ordering: .relaxed) == 0)
        let before = try AOFTest.dump(port: port)
        #expect(try AOFTest.value(c.call("INFO", "persistence")).string?.contains("aof_rewrites:4") == true)
        s.stop()
        let t = try AOFTest.server(dir.path)
        defer { t.stop() }
        #expect(try AOFTest.dump(port: t.port) == before)
    }

    @Test("everysec: when the background fsync is more than 2 s late, writes wait for it")
    func slowFsyncMakesWritesWait() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let s = try AOFTest.server(dir.path, fsync: .everysec, threads: 1)
        defer { s.stop() }
        s.state.aof.slowFsyncMillisecondsForTesting.store(3000, ordering: .relaxed)
        let c = try RESPClient(port: s.port, timeoutSeconds: 10)
        var slowest = 0.0
        let end = Date().addingTimeInterval(4.5)
        var i = 0
        while Date() < end {
            let t = Date()
            #expect(try c.call("SET", "k", "\(i)") == bytes("+OK\r\n"))
            slowest = max(slowest, Date().timeIntervalSince(t))
            i += 1
            usleep(1000)
        }
        s.state.aof.slowFsyncMillisecondsForTesting.store(0, ordering: .relaxed)
        let info = try AOFTest.value(c.call("INFO", "persistence")).string ?? ""
        #expect(!info.contains("aof_delayed_fsync:0"), "\(info)")
        // The loop stopped serving while it waited (about the third second of each fsync).
        #expect(slowest > 0.3, "slowest write took \(slowest) s")
    }

    @Test("automatic rewrite once the file outgrows auto-aof-rewrite-min-size by the percentage")
    func automaticRewrite() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let s = try AOFTest.server(dir.path, fsync: .everysec)
        defer { s.stop() }
        let c = try RESPClient(port: s.port)
        #expect(try c.call("CONFIG", "SET", "auto-aof-rewrite-min-size", "4kb", "auto-aof-rewrite-percentage", "50") == bytes("+OK\r\n"))
        for i in 0..<500 { _ = try c.call("SET", "k", "\(i)") }
        let deadline = Date().addingTimeInterval(10)
        var info = ""
        while Date() < deadline {
            info = try AOFTest.value(c.call("INFO", "persistence")).string ?? ""
            // A rewrite may start while the SETs still arrive; the ones after it grow the new
            // file past the threshold again and trigger another, so wait for the small file.
            let size = (try? FileManager.default.attributesOfItem(atPath: dir.file())[.size] as? Int) ?? -1
            if !info.contains("aof_rewrites:0") && info.contains("aof_rewrite_in_progress:0") && size < 4096 { break }
            usleep(20_000)
        }
        #expect(!info.contains("aof_rewrites:0"), "\(info)")
        // 500 SETs of one key compact to one.
        let size = (try FileManager.default.attributesOfItem(atPath: dir.file())[.size] as? Int) ?? -1
        #expect(size < 4096)
        #expect(try c.call("GET", "k") == bytes("$3\r\n499\r\n"))
    }

    @Test("CONFIG GET/SET, INFO persistence, SAVE, BGSAVE, LASTSAVE, appendonly at run time")
    func configAndInfo() throws {
        let dir = TempDir()
        defer { dir.remove() }
        var config = Configuration(port: 0, threads: 1)
        config.bindAddresses = ["127.0.0.1"]
        config.logLevel = .nothing
        config.dir = dir.path
        let s = SesameServer(configuration: config)
        try s.start()
        defer { s.stop() }
        let c = try RESPClient(port: s.port)
        #expect(try c.call("CONFIG", "GET", "appendonly") == bytes("*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"))
        #expect(try c.call("CONFIG", "GET", "appendfsync") == bytes("*2\r\n$11\r\nappendfsync\r\n$8\r\neverysec\r\n"))
        _ = try c.call("SET", "before", "1")
        #expect(try c.call("CONFIG", "SET", "appendonly", "yes") == bytes("+OK\r\n"))
        #expect(try c.call("CONFIG", "SET", "appendfsync", "always") == bytes("+OK\r\n"))
        #expect(try c.call("CONFIG", "SET", "appendfsync", "sometimes").first == UInt8(ascii: "-"))
        _ = try c.call("SET", "after", "2")
        let info = try AOFTest.value(c.call("INFO", "persistence")).string ?? ""
        #expect(info.contains("aof_enabled:1"))
        #expect(info.contains("aof_last_write_status:ok"))
        #expect(try c.call("SAVE") == bytes("+OK\r\n"))
        let lastsave = try AOFTest.value(c.call("LASTSAVE"))
        if case .integer(let t) = lastsave { #expect(abs(t - Int(Date().timeIntervalSince1970)) <= 2) }
        #expect(try c.call("BGSAVE") == bytes("+Background saving started\r\n"))
        try waitForRewrite(port: s.port)
        #expect(try c.call("SHUTDOWN") == bytes("-ERR SHUTDOWN is not available in an embedded server\r\n"))
        let text = try String(contentsOfFile: dir.file(), encoding: .utf8)
        #expect(text.contains("before") && text.contains("after"))
        #expect(try c.call("CONFIG", "SET", "appendonly", "no") == bytes("+OK\r\n"))
        #expect(try AOFTest.value(c.call("INFO", "persistence")).string?.contains("aof_enabled:0") == true)
    }
}

func waitForRewrite(port: Int, seconds: Double = 20) throws {
    let c = try RESPClient(port: port)
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let info = try AOFTest.value(c.call("INFO", "persistence")).string ?? ""
        if info.contains("aof_rewrite_in_progress:0") { return }
        usleep(5_000)
    }
    throw TestFailure("rewrite did not finish in \(seconds) s")
}

final class LoadFlags: Sendable {
    let stop = Atomic<Bool>(false)
    let failures = Atomic<Int>(0)
    let acked = Atomic<Int>(0)
}

/// sesame-server as a child process persisting to `dir`, so it can be SIGKILLed or run under
/// a file size limit (`prefix`: e.g. prlimit).
final class AOFChildServer {
    let pid: pid_t
    let port: Int
    let logPath: String
    private var reaped = false

    init(dir: String, arguments: [String], prefix: [String] = []) throws {
        let exe = try ClientMatrixServer.binary()
        let portFile = dir + ".port"
        unlink(portFile)
        logPath = dir + ".log"
        let logFD = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard logFD >= 0 else { throw TestFailure("open \(logPath): errno \(errno)") }
        defer { close(logFD) }
        let argv = prefix + [exe, "--port", "0", "--port-file", portFile, "--exit-with-parent", "--threads", "2",
                             "--bind", "127.0.0.1", "--appendonly", "yes", "--dir", dir] + arguments
        pid = try ClientMatrixChild.spawn(argv, environment: ProcessInfo.processInfo.environment,
                                          stdinPath: "/dev/null", stdoutFD: logFD, stderrFD: logFD)
        let deadline = Date().addingTimeInterval(30)
        var found: Int? = nil
        while Date() < deadline {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8),
               let p = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) { found = p; break }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { reaped = true; break }
            usleep(20_000)
        }
        guard let found else {
            if !reaped { _ = ClientMatrixChild.wait(pid, seconds: 0) }
            reaped = true
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw TestFailure("sesame-server did not start: \(text)")
        }
        port = found
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` and reaps the process; returns its exit status.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) -> Int32? {
        guard !reaped else { return nil }
        reaped = true
        kill(pid, signal)
        return ClientMatrixChild.wait(pid, seconds: 10)
    }

    deinit { stop(SIGKILL) }
}

/// Acknowledgement times per writer, for the crash tests.
final class AckLog: @unchecked Sendable {
    private let lock = NSLock()
    private var times: [[Double]]
    init(writers: Int) { times = Array(repeating: [], count: writers) }
    func acked(_ w: Int, at t: Double) { lock.lock(); times[w].append(t); lock.unlock() }
    func all() -> [[Double]] { lock.lock(); defer { lock.unlock() }; return times }
}

@Suite("Append-only file: crashes, disk full, Redis migration", .serialized)
struct PersistenceProcessTests {
    /// Writers INCR their own counter as fast as acknowledgements come back; the server is
    /// SIGKILLed mid-load and restarted from its file.
    func crash(fsync: String) throws -> (acked: [Int], persisted: [Int], lostWindow: [Double]) {
        let dir = TempDir()
        defer { dir.remove(); unlink(dir.path + ".log"); unlink(dir.path + ".port") }
        let child = try AOFChildServer(dir: dir.path, arguments: ["--appendfsync", fsync])
        let writers = 4
        let acks = AckLog(writers: writers)
        let port = child.port
        var threads: [Thread] = []
        for w in 0..<writers {
            let t = Thread {
                guard let c = try? RESPClient(port: port, timeoutSeconds: 2) else { return }
                while true {
                    guard let r = try? c.call("INCR", "counter:\(w)"), r.first == UInt8(ascii: ":") else { return }
                    acks.acked(w, at: Date().timeIntervalSince1970)
                }
            }
            threads.append(t)
            t.start()
        }
        usleep(1_500_000)
        let killedAt = Date().timeIntervalSince1970
        child.stop(SIGKILL)
        while threads.contains(where: { !$0.isFinished }) { usleep(10_000) }
        let times = acks.all()
        let restarted = try AOFTest.server(dir.path)
        defer { restarted.stop() }
        let c = try RESPClient(port: restarted.port)
        var persisted: [Int] = []
        var window: [Double] = []
        for w in 0..<writers {
            let v = Int(try AOFTest.value(c.call("GET", "counter:\(w)")).string ?? "0") ?? 0
            persisted.append(v)
            // The oldest acknowledged INCR that is missing: how long before the kill it was acked.
            window.append(v < times[w].count ? killedAt - times[w][v] : 0)
        }
        return (times.map(\.count), persisted, window)
    }

    @Test("SIGKILL under load with appendfsync always: every acknowledged write survives")
    func crashAlways() throws {
        let r = try crash(fsync: "always")
        for w in 0..<r.acked.count {
            #expect(r.acked[w] > 0)
            // Acknowledged <= persisted <= acknowledged + the one in flight.
            #expect(r.persisted[w] >= r.acked[w], "writer \(w): acked \(r.acked[w]), persisted \(r.persisted[w])")
            #expect(r.persisted[w] <= r.acked[w] + 1)
        }
    }

    @Test("SIGKILL under load with appendfsync everysec: at most the last ~2 s are missing")
    func crashEverysec() throws {
        let r = try crash(fsync: "everysec")
        for w in 0..<r.acked.count {
            #expect(r.acked[w] > 0)
            #expect(r.lostWindow[w] <= 2.5, "writer \(w): writes acked \(r.lostWindow[w]) s before the kill were lost")
        }
    }

    @Test("SIGTERM flushes and fsyncs: with appendfsync no, every acknowledged write is in the file")
    func sigtermFlushes() throws {
        let dir = TempDir()
        defer { dir.remove(); unlink(dir.path + ".log"); unlink(dir.path + ".port") }
        let child = try AOFChildServer(dir: dir.path, arguments: ["--appendfsync", "no"])
        let c = try RESPClient(port: child.port)
        for i in 0..<2000 { try c.send(command: ["SET", "key:\(i)", "\(i)"]) }
        _ = try c.readReplies(2000)
        #expect(child.stop(SIGTERM) == 0)
        let s = try AOFTest.server(dir.path)
        defer { s.stop() }
        #expect(try RESPClient(port: s.port).call("DBSIZE") == bytes(":2000\r\n"))
    }

    @Test("file size limit (disk full): writes fail with -MISCONF, never acknowledged; recovery after a rewrite")
    func diskFull() throws {
        guard let prlimit = ExternalTools.find("prlimit") else {
            if ExternalTools.isCI { Issue.record("prlimit (util-linux) is needed on CI") }
            return
        }
        let dir = TempDir()
        defer { dir.remove(); unlink(dir.path + ".log"); unlink(dir.path + ".port") }
        let limit = 64 * 1024
        let child = try AOFChildServer(dir: dir.path, arguments: ["--appendfsync", "always"],
                                       prefix: [prlimit, "--fsize=\(limit)", "--"])
        let value = String(repeating: "x", count: 1000)
        var c = try RESPClient(port: child.port, timeoutSeconds: 5)
        var acked = 0
        var sawMisconf = false
        for i in 0..<200 {
            let reply: [UInt8]
            do { reply = try c.call("SET", "k", "\(i):\(value)") } catch {
                // Not acknowledged: the connection was closed instead of replying OK.
                c = try RESPClient(port: child.port, timeoutSeconds: 5)
                continue
            }
            if reply == bytes("+OK\r\n") { acked = i; continue }
            #expect(printable(reply).contains("MISCONF Errors writing to the AOF file: File too large"), "\(printable(reply))")
            sawMisconf = true
            break
        }
        #expect(sawMisconf, "\(child.log)")
        let size = (try FileManager.default.attributesOfItem(atPath: dir.file())[.size] as? Int) ?? -1
        #expect(size <= limit)
        #expect(try AOFTest.value(c.call("INFO", "persistence")).string?.contains("aof_last_write_status:err") == true)
        #expect(try c.call("GET", "k").count > 1000)  // reads still work
        // Inside MULTI the refusal happens at queue time and fails the transaction, as in Redis.
        #expect(try c.call("MULTI") == bytes("+OK\r\n"))
        #expect(printable(try c.call("SET", "k", "in-tx")).contains("MISCONF"))
        #expect(try c.call("EXEC") == bytes("-EXECABORT Transaction discarded because of previous errors.\r\n"))
        // Space returns: the rewrite compacts the file far below the limit.
        _ = try c.call("BGREWRITEAOF")
        try waitForRewrite(port: child.port)
        #expect(try c.call("SET", "k", "final") == bytes("+OK\r\n"))
        #expect(try AOFTest.value(c.call("INFO", "persistence")).string?.contains("aof_last_write_status:ok") == true)
        #expect(acked > 10)
        child.stop(SIGTERM)
        let s = try AOFTest.server(dir.path)
        defer { s.stop() }
        #expect(try RESPClient(port: s.port).call("GET", "k") == bytes("$5\r\nfinal\r\n"))
    }

    @Test("redis-check-aof accepts Sesame's file and redis-server 7 loads the same data",
          .enabled(if: ExternalTools.redisServerEnabled))
    func redisReadsSesameFile() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let s = try AOFTest.server(dir.path)
        try AOFTest.populate(port: s.port)
        let expected = try AOFTest.dump(port: s.port)
        s.stop()
        let checker = try ExternalTools.require(ExternalTools.find("redis-check-aof"), "redis-check-aof")
        let check = try runTool([checker, dir.file()])
        #expect(check.status == 0 && check.output.contains("is valid"), "\(check.output)")
        let redis = try RedisWithDir.start(dir: dir.path)
        defer { redis.stop() }
        #expect(try AOFTest.dump(port: redis.port) == expected)
    }

    @Test("Sesame loads redis-server 7's appendonlydir (base + incr) and migrates it to one file",
          .enabled(if: ExternalTools.redisServerEnabled))
    func sesameReadsRedisDirectory() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let redis = try RedisWithDir.start(dir: dir.path)
        let rc = try RESPClient(port: redis.port)
        _ = try rc.call("SET", "base-key", "in the base file")
        _ = try rc.call("BGREWRITEAOF")
        usleep(300_000)
        try AOFTest.populate(port: redis.port)
        let expected = try AOFTest.dump(port: redis.port)
        redis.stop(graceful: true)
        #expect(access(dir.file(), F_OK) != 0)
        let s = try AOFTest.server(dir.path)
        #expect(try AOFTest.dump(port: s.port) == expected)
        s.stop()
        #expect(access(dir.file(), F_OK) == 0)
        let again = try AOFTest.server(dir.path)
        defer { again.stop() }
        #expect(try AOFTest.dump(port: again.port) == expected)
    }
}

/// redis-server with appendonly on in `dir` (plain RESP base files, fsync always).
final class RedisWithDir {
    let port: Int
    private let process: Process

    private init(port: Int, process: Process) { self.port = port; self.process = process }

    static func start(dir: String) throws -> RedisWithDir {
        let exe = try ExternalTools.require(ExternalTools.redisServer, "redis-server")
        let port = try ExternalTools.freePort()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--port", "\(port)", "--save", "", "--appendonly", "yes", "--dir", dir,
                       "--appendfilename", "appendonly.aof", "--aof-use-rdb-preamble", "no",
                       "--appendfsync", "always", "--bind", "127.0.0.1", "--daemonize", "no",
                       "--logfile", "", "--loglevel", "warning"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let r = RedisWithDir(port: port, process: p)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let c = try? RESPClient(port: port, timeoutSeconds: 1), let reply = try? c.call("PING"),
               reply == bytes("+PONG\r\n") { return r }
            usleep(20_000)
        }
        r.stop()
        throw TestFailure("redis-server on \(dir) did not come up")
    }

    /// `graceful`: SHUTDOWN (flushes its AOF); the test runner's blocked SIGTERM is inherited,
    /// so a signal would not do.
    func stop(graceful: Bool = false) {
        if graceful, process.isRunning, let c = try? RESPClient(port: port, timeoutSeconds: 5) {
            _ = try? c.send(command: ["SHUTDOWN"])
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { usleep(10_000) }
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

func runTool(_ args: [String]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: args[0])
    p.arguments = Array(args.dropFirst())
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
