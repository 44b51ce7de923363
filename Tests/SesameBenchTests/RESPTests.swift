import Testing
@testable import SesameBenchCore

@Suite struct RESPTests {
    let parser = RESPReplyParser()

    static let cases: [(String, RESPValue)] = [
        ("+OK\r\n", .simpleString("OK")),
        ("+\r\n", .simpleString("")),
        ("-ERR unknown command 'FOO', with args beginning with: \r\n", .error("ERR unknown command 'FOO', with args beginning with: ")),
        (":1000\r\n", .integer(1000)),
        (":-42\r\n", .integer(-42)),
        ("$5\r\nhello\r\n", .bulkString(Array("hello".utf8))),
        ("$0\r\n\r\n", .bulkString([])),
        ("$-1\r\n", .bulkString(nil)),
        ("$4\r\na\r\nb\r\n", .bulkString(Array("a\r\nb".utf8))),
        ("*-1\r\n", .array(nil)),
        ("*0\r\n", .array([])),
        ("*2\r\n$3\r\nfoo\r\n:7\r\n", .array([.bulkString(Array("foo".utf8)), .integer(7)])),
        ("*2\r\n*1\r\n+a\r\n*0\r\n", .array([.array([.simpleString("a")]), .array([])])),
        ("_\r\n", .null),
        (",3.25\r\n", .double(3.25)),
        (",-inf\r\n", .double(-.infinity)),
        ("#t\r\n", .boolean(true)),
        ("#f\r\n", .boolean(false)),
        ("(3492890328409238509324850943850943825024385\r\n", .bigNumber("3492890328409238509324850943850943825024385")),
        ("=15\r\ntxt:Some string\r\n", .verbatim(format: "txt", text: Array("Some string".utf8))),
        ("!21\r\nSYNTAX invalid syntax\r\n", .blobError(Array("SYNTAX invalid syntax".utf8))),
        ("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", .map([.simpleString("first"), .integer(1), .simpleString("second"), .integer(2)])),
        ("~2\r\n+a\r\n+b\r\n", .set([.simpleString("a"), .simpleString("b")])),
        (">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", .push([.bulkString(Array("message".utf8)), .bulkString(Array("ch".utf8)), .bulkString(Array("hi".utf8))])),
        ("|1\r\n+ttl\r\n:3600\r\n:5\r\n", .integer(5)),
    ]

    @Test func parsesEveryTypeAllAtOnce() throws {
        for (wire, expected) in Self.cases {
            let bytes = Array(wire.utf8)
            let parsed = try #require(try parser.parse(bytes), "\(wire.debugDescription)")
            #expect(parsed.value == expected, "\(wire.debugDescription)")
            #expect(parsed.length == bytes.count)
            let summary = try #require(try bytes.withUnsafeBytes { try parser.scan($0) })
            #expect(summary.length == bytes.count, "scan length of \(wire.debugDescription)")
        }
    }

    @Test func everyPrefixNeedsMoreBytes() throws {
        for (wire, expected) in Self.cases {
            let bytes = Array(wire.utf8)
            // Fed byte by byte: every strict prefix is "need more", the full reply parses.
            for end in 0..<bytes.count {
                let prefix = Array(bytes[0..<end])
                #expect(try parser.parse(prefix) == nil, "prefix \(end) of \(wire.debugDescription)")
                #expect(try prefix.withUnsafeBytes { try parser.scan($0) } == nil)
            }
            #expect(try parser.parse(bytes)?.value == expected)
        }
    }

    @Test func pipelinedRepliesFedByteByByte() throws {
        let stream = Array(Self.cases.map(\.0).joined().utf8)
        var buffer: [UInt8] = []
        var values: [RESPValue] = []
        var scanned = 0
        var scanBuffer: [UInt8] = []
        for byte in stream {
            buffer.append(byte)
            while let (value, length) = try parser.parse(buffer) {
                values.append(value)
                buffer.removeFirst(length)
            }
            scanBuffer.append(byte)
            while let s = try scanBuffer.withUnsafeBytes({ try parser.scan($0) }) {
                scanned += 1
                scanBuffer.removeFirst(s.length)
            }
        }
        #expect(values == Self.cases.map(\.1))
        #expect(scanned == Self.cases.count)
        #expect(buffer.isEmpty && scanBuffer.isEmpty)
    }

    @Test func malformedInputThrows() {
        let bad = ["?what\r\n", ":12a\r\n", ":\r\n", "$3\r\nabcd\r\n", "$-5\r\n", "*-2\r\n", "#x\r\n", "_x\r\n",
                   "+OK\n", "$3\r\nabc\n\n", ":99999999999999999999\r\n", "=2\r\nab\r\n"]
        for wire in bad {
            let bytes = Array(wire.utf8)
            #expect(throws: RESPError.self, "\(wire.debugDescription)") { _ = try parser.parse(bytes) }
            #expect(throws: RESPError.self, "scan \(wire.debugDescription)") { _ = try bytes.withUnsafeBytes { try parser.scan($0) } }
        }
    }

    @Test func limitsAreEnforced() {
        var small = RESPReplyParser()
        small.maxBulkLength = 10
        small.maxAggregateCount = 3
        small.maxDepth = 2
        #expect(throws: RESPError.self) { _ = try small.parse(Array("$11\r\n".utf8)) }
        #expect(throws: RESPError.self) { _ = try small.parse(Array("*4\r\n".utf8)) }
        #expect(throws: RESPError.self) { _ = try small.parse(Array("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n".utf8)) }
        #expect(throws: RESPError.self) { _ = try Array("$11\r\n".utf8).withUnsafeBytes { try small.scan($0) } }
    }

    @Test func scanSummaries() throws {
        func scan(_ s: String) throws -> ReplySummary { try #require(try Array(s.utf8).withUnsafeBytes { try parser.scan($0) }) }
        #expect(try scan("-ERR x\r\n").isError)
        #expect(try scan("!3\r\nbad\r\n").isError)
        #expect(try scan("*0\r\n").isEmpty)
        #expect(try scan("%0\r\n").isEmpty)
        #expect(try scan("$-1\r\n").isEmpty)
        #expect(try scan("_\r\n").isEmpty)
        #expect(try !scan("$0\r\n\r\n").isEmpty)
        #expect(try !scan("*1\r\n:1\r\n").isEmpty)
        #expect(try scan("*2\r\n$1\r\na\r\n$1\r\nb\r\n").header == 2)
    }

    @Test func encodesMultibulk() {
        var b = CommandBuffer()
        b.begin(3); b.arg("SET"); b.arg("key:", 42, ""); b.arg(-7)
        #expect(String(decoding: b.bytes, as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$6\r\nkey:42\r\n$2\r\n-7\r\n")
        b.removeAll()
        let id = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0".utf8)
        id.withUnsafeBytes { b.begin(2); b.arg("HGETALL"); b.arg("sess:{", 1234, "}:", $0) }
        #expect(String(decoding: b.bytes, as: UTF8.self) == "*2\r\n$7\r\nHGETALL\r\n$39\r\nsess:{1234}:ABCDEFGHIJKLMNOPQRSTUVWXYZ0\r\n")
        b.removeAll()
        b.begin(1); b.argIPv4(0x0A00_FF01); b.arg(0); b.arg(1_000_000)
        #expect(String(decoding: b.bytes, as: UTF8.self) == "*1\r\n$10\r\n10.0.255.1\r\n$1\r\n0\r\n$7\r\n1000000\r\n")
        #expect(CommandBuffer.encode(["PING"]) == Array("*1\r\n$4\r\nPING\r\n".utf8))
    }

    @Test func statLineParsing() {
        let line = Array("1234 (redis-server (x) 1) S 1 1234 1234 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 4 0 100 0 0".utf8)
        #expect(ProcStats.cpuTicks(statLine: line) == 325)
        #expect(ProcStats.cpuTicks(statLine: Array("garbage".utf8)) == nil)
    }

    @Test func optionsParse() throws {
        let o = try BenchOptions.parse(["session", "--server", "redis=127.0.0.1:7379", "--server", "sesame=localhost:7380",
                                        "--server-pid", "sesame=99", "--rounds=5", "--mix", "validate=90,list=10", "--zipf", "1.1"])
        #expect(o.workload == .session)
        #expect(o.servers.map(\.name) == ["redis", "sesame"])
        #expect(o.servers[1].pid == 99 && o.servers[0].pid == nil)
        #expect(o.rounds == 5)
        #expect(o.session.mix == [90, 0, 0, 0, 10])
        #expect(o.effectiveDuration == 10)
        #expect(throws: BenchError.self) { try BenchOptions.parse(["ops", "--server", "10.0.0.1:6379"]) }
        #expect(throws: BenchError.self) { try BenchOptions.parse(["ops", "--ops", "ping,nope"]) }
        #expect(throws: BenchError.self) { try BenchOptions.parse(["ops", "--server", "a=127.0.0.1:1", "--server", "b=127.0.0.1:2", "--server-pid", "5"]) }
        let load = try BenchOptions.parse(["load"])
        #expect(load.session.sessions == 500_000)
        let expiry = try BenchOptions.parse(["expiry", "--requests", "100"])
        #expect(expiry.rate == 10_000 && expiry.effectiveDuration == nil)
    }
}
