// rename-command and failed-authentication counting, at the command layer.

import Testing
@testable import Sesame

/// A server state built from configuration text or flags, with one client.
private struct ConfiguredHarness {
    let state: ServerState
    let client: Client

    init(_ configure: (inout Configuration) throws -> Void) rethrows {
        var cfg = Configuration()
        cfg.threads = 1
        cfg.shards = 4
        try configure(&cfg)
        state = ServerState(configuration: cfg, clock: ManualClock())
        client = Client(id: 1, server: state, output: ByteBuffer())
    }

    @discardableResult
    func run(_ args: String...) -> String {
        client.output.clear()
        OwnedArguments(args).withArguments { Dispatcher.execute(client, $0) }
        let reply = client.output.readableArray.text
        client.output.clear()
        return reply
    }

    func info(_ field: String) -> String? {
        let text = run("INFO", "stats")
        for line in text.split(separator: "\r\n") where line.hasPrefix(field + ":") {
            return String(line.dropFirst(field.count + 1))
        }
        return nil
    }
}

private func configError(_ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch let e as Configuration.Error { return e.description } catch { return "\(error)" }
}

@Suite struct RenameCommandTests {
    @Test func disabledCommandsAreUnknown() throws {
        let h = try ConfiguredHarness { try $0.apply(fileContents: """
            rename-command FLUSHALL ""
            rename-command flushdb ""
            rename-command CONFIG ""
            rename-command DEBUG ""
            rename-command KEYS ""
            """) }
        #expect(h.run("FLUSHALL") == "-ERR unknown command 'FLUSHALL', with args beginning with: \r\n")
        #expect(h.run("flushdb", "async") == "-ERR unknown command 'flushdb', with args beginning with: 'async' \r\n")
        #expect(h.run("CONFIG", "GET", "maxmemory") == "-ERR unknown command 'CONFIG', with args beginning with: 'GET' 'maxmemory' \r\n")
        #expect(h.run("KEYS", "*") == "-ERR unknown command 'KEYS', with args beginning with: '*' \r\n")
        #expect(h.run("SET", "k", "v") == "+OK\r\n", "everything else works")
        // Gone from COMMAND too.
        let all = ServerState(configuration: Configuration(), clock: ManualClock()).commands.specs.count
        #expect(h.state.commands.specs.count == all - 5)
        #expect(h.run("COMMAND", "COUNT") == ":\(all - 5)\r\n")
        #expect(h.run("COMMAND", "INFO", "flushall") == "*1\r\n$-1\r\n")
    }

    @Test func renamedCommandsAnswerOnlyToTheirNewName() throws {
        let secret = "admin-flushall-7f3a9c1e2b4d6f80a1c3e5f7091b2d4f"  // longer than any command name
        let h = try ConfiguredHarness { try $0.apply(fileContents: "rename-command FLUSHALL \(secret)\nrename-command config cfg\n") }
        h.run("SET", "k", "v")
        #expect(h.run("FLUSHALL").hasPrefix("-ERR unknown command 'FLUSHALL'"))
        #expect(h.run("GET", "k") == "$1\r\nv\r\n")
        #expect(h.run(secret.uppercased()) == "+OK\r\n", "the new name is case-insensitive like any command")
        #expect(h.run("GET", "k") == "$-1\r\n")
        #expect(h.run("cfg", "GET", "maxmemory") == "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n")
        // Errors keep the command's real name, as in Redis.
        #expect(h.run("cfg") == "-ERR wrong number of arguments for 'config' command\r\n")
    }

    @Test func renamesAreValidatedInOrder() throws {
        #expect(configError { _ = try Configuration.parse(arguments: ["--rename-command", "nosuch", "x"]) }?
            .contains("No such command in rename-command") == true)
        #expect(configError { _ = try Configuration.parse(arguments: ["--rename-command", "get", "set"]) }?
            .contains("Target command name already exists") == true)
        #expect(configError { _ = try Configuration.parse(arguments: ["--rename-command", "get"]) } != nil)
        // A renamed command's old name is free for another, and the renamed one can move again.
        let c = try Configuration.parse(arguments: ["--rename-command", "get", "fetch",
                                                    "--rename-command", "fetch", "read-it"])
        #expect(c.renamedCommands.map { "\($0.from)>\($0.to)" } == ["get>fetch", "fetch>read-it"])
        var d = Configuration()
        try d.apply(fileContents: "rename-command get fetch\nrename-command echo get\n")
        let h = ConfiguredHarness { $0 = d; $0.threads = 1 }
        h.run("SET", "k", "v")
        #expect(h.run("GET", "hello") == "$5\r\nhello\r\n", "GET is now ECHO")
        #expect(h.run("FETCH", "k") == "$1\r\nv\r\n")
        #expect(configError { var e = Configuration(); try e.apply(fileContents: "rename-command get fetch\nrename-command get x\n") }?
            .contains("No such command") == true)
    }

    @Test func flagsDisableWithAnEmptyName() throws {
        let c = try Configuration.parse(arguments: ["--rename-command", "FLUSHDB", "", "--port", "7001"])
        #expect(c.renamedCommands.count == 1)
        #expect(c.renamedCommands[0].to == "")
        #expect(c.port == 7001)
    }
}

@Suite struct FailedAuthTests {
    @Test func everyFailedAttemptIsCounted() {
        let h = ConfiguredHarness { $0.requirePass = "correct horse" }
        #expect(h.info("acl_access_denied_auth") == nil, "INFO needs authentication first")
        #expect(h.run("AUTH", "wrong") == "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        #expect(h.run("AUTH", "default", "wrong") == "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        #expect(h.run("AUTH", "someone", "correct horse") == "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        #expect(h.run("HELLO", "3", "AUTH", "default", "nope") == "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        #expect(h.run("GET", "k") == "-NOAUTH Authentication required.\r\n", "NOAUTH is not an auth failure")
        #expect(h.run("AUTH", "correct horse") == "+OK\r\n")
        #expect(h.info("acl_access_denied_auth") == "4")
        #expect(h.run("AUTH", "again wrong").hasPrefix("-WRONGPASS"))
        #expect(h.info("acl_access_denied_auth") == "5")
    }

    @Test func noPasswordMeansNothingToCount() {
        let h = ConfiguredHarness { _ in }
        #expect(h.run("AUTH", "x").hasPrefix("-ERR AUTH <password> called without any password configured"))
        #expect(h.run("AUTH", "default", "anything") == "+OK\r\n")
        #expect(h.info("acl_access_denied_auth") == "0")
    }
}

@Suite struct HardenedConfigTests {
    /// The hardened configuration in docs/SECURITY.md must stay valid and mean what it says.
    @Test func documentedHardenedConfigParses() throws {
        var root = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        root.removeLast(4)  // Tests/SesameTests/Security/AccessControlTests.swift
        let doc = try readFile(root.joined(separator: "/") + "/docs/SECURITY.md")
        let lines = doc.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(of: "```conf"),
              let end = lines[(start + 1)...].firstIndex(of: "```") else {
            Issue.record("no ```conf block in docs/SECURITY.md")
            return
        }
        var c = Configuration()
        try c.apply(fileContents: lines[(start + 1)..<end].joined(separator: "\n"))
        #expect(c.protectedMode)
        #expect(c.requirePass?.count ?? 0 >= 32)
        #expect(c.maxMemoryPolicy == .volatileLRU)
        #expect(c.maxMemory == 2 << 30)
        #expect(c.limits.maxBulkLength == 1 << 20)
        #expect(c.idleTimeoutSeconds == 300)
        #expect(c.outputHardLimit == 64 << 20)
        #expect(!c.enableDebugCommand)
        let state = ServerState(configuration: c, clock: ManualClock())
        for name in ["flushall", "flushdb", "swapdb", "config", "debug", "keys"] {
            #expect(state.commands.lookup(name) == nil, "\(name) is still enabled")
        }
        #expect(state.commands.lookup("get") != nil)
    }
}

