// redis-cli against Sesame: mass insertion with --pipe, one-shot commands, and the interactive
// mode under a pseudo-terminal (linenoise, hints from its built-in docs after COMMAND DOCS fails).

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing

@Suite("redis-cli against Sesame",
       .enabled(if: ExternalTools.redisCLIEnabled, "redis-cli is not on PATH (set CI=true to make this a failure)"))
struct RedisCLITests {

    @Test("redis-cli --pipe: 60,000 commands, errors: 0, replies: 60000")
    func pipeMode() throws {
        let cli = try ExternalTools.require(ExternalTools.redisCLI, "redis-cli")
        let sesame = try SesameInstance()
        var input: [UInt8] = []
        input.reserveCapacity(3 << 20)
        let total = 60_000
        var keys = Set<String>(), members = 0
        for i in 0..<total {
            switch i % 4 {
            case 0:
                input += RESPClient.encode(["SET", "sess:\(i)", "payload-\(i)"])
                keys.insert("sess:\(i)")
            case 1:
                input += RESPClient.encode(["HSET", "h:\(i % 1000)", "f\(i)", "v\(i)", "g", "w"])
                keys.insert("h:\(i % 1000)")
            case 2:
                input += RESPClient.encode(["SADD", "user_sessions:{\(i % 500)}", "sess:\(i)"])
                keys.insert("user_sessions:{\(i % 500)}")
                if i % 500 == 2 { members += 1 }
            default: input += RESPClient.encode(["EXPIRE", "sess:\(i - 3)", "3600"])
            }
        }
        let file = try TempFile(contents: input)
        let result = try runProcess(cli, ["-p", "\(sesame.port)", "--pipe"], stdinPath: file.path, timeoutSeconds: 60)
        #expect(result.status == 0, "redis-cli --pipe exited \(result.status): \(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("errors: 0, replies: \(total)"), "redis-cli said: \(result.stdout) \(result.stderr)")
        let c = try sesame.client()
        #expect(try c.call("DBSIZE") == bytes(":\(keys.count)\r\n"))
        let ttl = try RESPValue.parse(try c.call("TTL", "sess:0"))
        if case .integer(let t) = ttl { #expect((3500...3600).contains(t), "TTL \(t)") } else { Issue.record("TTL \(ttl)") }
        #expect(try c.call("SCARD", "user_sessions:{2}") == bytes(":\(members)\r\n"))
    }

    @Test("redis-cli one-shot commands, RESP2 and RESP3 (-3)")
    func oneShot() throws {
        let cli = try ExternalTools.require(ExternalTools.redisCLI, "redis-cli")
        let sesame = try SesameInstance()
        let p = "\(sesame.port)"
        func run(_ args: [String]) throws -> String {
            let r = try runProcess(cli, ["-p", p] + args, timeoutSeconds: 20)
            #expect(r.status == 0, "redis-cli \(args) exited \(r.status): \(r.stderr)")
            return r.stdout
        }
        #expect(try run(["PING"]) == "PONG\n")
        #expect(try run(["HSET", "h", "f", "v", "g", "w"]) == "2\n")
        #expect(try run(["HGETALL", "h"]) == "f\nv\ng\nw\n")
        #expect(try run(["--no-raw", "HGETALL", "h"]) == "1) \"f\"\n2) \"v\"\n3) \"g\"\n4) \"w\"\n")
        #expect(try run(["-3", "--no-raw", "HGETALL", "h"]) == "1# \"f\" => \"v\"\n2# \"g\" => \"w\"\n")
        #expect(try run(["-3", "--no-raw", "GET", "nope"]) == "(nil)\n")
        #expect(try run(["SADD", "s", "a"]) == "1\n")
        #expect(try run(["-3", "--no-raw", "SMEMBERS", "s"]) == "1~ \"a\"\n")
        #expect(try run(["-n", "3", "SET", "k", "v"]) == "OK\n")
        #expect(try run(["-n", "3", "DBSIZE"]) == "1\n")
        #expect(try run(["--no-raw", "FOO", "bar"]) == "(error) ERR unknown command 'FOO', with args beginning with: 'bar' \n")
        let info = try run(["INFO", "server"])
        #expect(info.hasPrefix("# Server\r\nredis_version:7.2.4\r\n"), "\(info.prefix(200))")
    }

    @Test("redis-cli interactive mode under a pty: PING, HSET, HGETALL, quit")
    func interactive() throws {
        let cli = try ExternalTools.require(ExternalTools.redisCLI, "redis-cli")
        let script = try ExternalTools.require(ExternalTools.script, "script (util-linux)")
        let sesame = try SesameInstance()
        let session = try PTYSession(script: script,
                                     command: "stty cols 200 rows 50; exec \(cli) -p \(sesame.port)")
        defer { session.terminate() }
        let prompt = "127.0.0.1:\(sesame.port)> "
        try session.waitFor(prompt, occurrences: 1)
        try session.type("PING\r")
        try session.waitFor("PONG")
        try session.waitFor(prompt, occurrences: 2)
        try session.type("HSET h f v\r")
        try session.waitFor("(integer) 1")
        try session.waitFor(prompt, occurrences: 3)
        try session.type("HGETALL h\r")
        try session.waitFor("2) \"v\"")
        try session.waitFor(prompt, occurrences: 4)
        try session.type("quit\r")
        let status = try session.waitForExit(seconds: 10)
        let out = session.output
        #expect(status == 0, "redis-cli exited \(status); output:\n\(out)")
        #expect(out.contains("1) \"f\""))
        // Hints come from redis-cli's built-in docs, which it uses when COMMAND DOCS fails and
        // INFO's redis_version is readable.
        #expect(out.contains("key field value"), "no HSET hint shown; output:\n\(out)")
        #expect(!out.contains("Abort") && !out.contains("Assertion"), "\(out)")
    }
}

// MARK: - Processes

struct ProcessResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

final class TempFile {
    let path: String
    init(contents: [UInt8] = []) throws {
        path = NSTemporaryDirectory() + "sesame-it-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: path, contents: Data(contents)) else {
            throw TestFailure("cannot create \(path)")
        }
    }
    var contents: String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs a program with stdin from a file (or /dev/null), output to temp files, killed after
/// `timeoutSeconds`.
func runProcess(_ exe: String, _ args: [String], stdinPath: String? = nil, timeoutSeconds: Double) throws -> ProcessResult {
    let out = try TempFile(), err = try TempFile()
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    p.standardInput = stdinPath.flatMap { FileHandle(forReadingAtPath: $0) } ?? FileHandle.nullDevice
    p.standardOutput = FileHandle(forWritingAtPath: out.path)
    p.standardError = FileHandle(forWritingAtPath: err.path)
    try p.run()
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        throw TestFailure("\(exe) \(args) did not finish within \(timeoutSeconds) s; output: \(out.contents) \(err.contents)")
    }
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: out.contents, stderr: err.contents)
}

/// A program run under a pseudo-terminal by util-linux `script`, typed into through a pipe.
final class PTYSession {
    private let process = Process()
    private let stdin = Pipe()
    private let stdout = Pipe()
    private let buffer = Locked<[UInt8]>([])

    init(script: String, command: String) throws {
        process.executableURL = URL(fileURLWithPath: script)
        // -q quiet, -e return the child's exit status, -c command; no typescript file.
        process.arguments = ["-qec", command, "/dev/null"]
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stdout
        var env = ProcessInfo.processInfo.environment
        env["TERM"] = "xterm"
        process.environment = env
        let buffer = self.buffer
        stdout.fileHandleForReading.readabilityHandler = { h in
            let d = h.availableData
            if !d.isEmpty { buffer.withLock { $0 += Array(d) } }
        }
        try process.run()
    }

    var output: String { buffer.withLock { String(decoding: $0, as: UTF8.self) } }

    func type(_ text: String) throws {
        try stdin.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    /// Waits until `text` appears at least `occurrences` times in the output.
    func waitFor(_ text: String, occurrences: Int = 1, seconds: Double = 10) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if output.components(separatedBy: text).count - 1 >= occurrences { return }
            if !process.isRunning { break }
            usleep(10_000)
        }
        throw TestFailure("waited for \(occurrences)x \"\(text)\"; output so far:\n\(printable(Array(output.utf8), limit: 4000))")
    }

    func waitForExit(seconds: Double) throws -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { throw TestFailure("still running after \(seconds) s; output:\n\(output)") }
        process.waitUntilExit()
        usleep(50_000)  // let the last output arrive
        return process.terminationStatus
    }

    func terminate() {
        try? stdin.fileHandleForWriting.close()
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        stdout.fileHandleForReading.readabilityHandler = nil
    }
}
