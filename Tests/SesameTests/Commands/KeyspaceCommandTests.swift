import Testing
@testable import Sesame

/// Command-layer tests for what the differential tests cannot check against Redis: SCAN's
/// guarantee under concurrent writes, behaviour on a manual clock (TTL carried by RENAME /
/// COPY / SWAPDB, IDLETIME, TIME), NOVALUES, and that no input crashes a handler.
@Suite struct KeyspaceCommandTests {

    /// Parses `*2 $n cursor *k ...` into the cursor and the keys (test inputs are ASCII).
    private func parseScan(_ reply: String) -> (cursor: String, keys: [String]) {
        let lines = reply.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        precondition(lines[0] == "*2", "not a scan reply: \(reply)")
        let cursor = lines[2]
        let n = Int(lines[3].dropFirst())!
        var keys: [String] = []
        for i in 0..<n { keys.append(lines[5 + 2 * i]) }
        return (cursor, keys)
    }

    private func scanAll(_ h: CommandHarness, _ extra: [String] = [], between: (Int) -> Void = { _ in }) -> [String] {
        var cursor = "0"
        var all: [String] = []
        var calls = 0
        repeat {
            let (next, keys) = parseScan(h.run(["SCAN", cursor] + extra))
            all += keys
            cursor = next
            between(calls)
            calls += 1
            precondition(calls < 100_000, "SCAN did not terminate")
        } while cursor != "0"
        return all
    }

    @Test func scanReturnsEveryKeyOnceAndFilters() {
        let h = CommandHarness(shards: 16)
        for i in 0..<500 { h.run("SET", "k:\(i)", "v") }
        for i in 0..<50 { h.run("HSET", "h:\(i)", "f", "v") }
        let all = scanAll(h)
        #expect(all.count == 550)
        #expect(Set(all).count == 550)
        #expect(Set(scanAll(h, ["MATCH", "h:*"])) == Set((0..<50).map { "h:\($0)" }))
        #expect(Set(scanAll(h, ["TYPE", "HASH", "COUNT", "1000"])) == Set((0..<50).map { "h:\($0)" }))
        #expect(scanAll(h, ["TYPE", "set"]).isEmpty)
        // COUNT large enough for everything: one call.
        let (cursor, keys) = parseScan(h.run("SCAN", "0", "COUNT", "100000"))
        #expect(cursor == "0" && keys.count == 550)
        // Other databases are not visited.
        h.run("SELECT", "1")
        #expect(scanAll(h).isEmpty)
    }

    @Test func scanGuaranteeUnderGrowthAndDeletes() {
        // Keys present for the whole scan are returned exactly once, however much the key space
        // grows or shrinks between calls.
        let h = CommandHarness(shards: 64)
        for i in 0..<300 { h.run("SET", "stable:\(i)", "v") }
        for i in 0..<300 { h.run("SET", "doomed:\(i)", "v") }
        var added = 0
        let seen = scanAll(h, ["COUNT", "5"]) { call in
            for _ in 0..<50 {
                h.run("SET", "new:\(added)", "v")
                added += 1
            }
            if call < 300 { h.run("DEL", "doomed:\(call)") }
        }
        let stable = seen.filter { $0.hasPrefix("stable:") }
        #expect(stable.count == 300)
        #expect(Set(stable).count == 300)
        #expect(Set(seen).count == seen.count, "a key was returned twice")
    }

    @Test func scanGuaranteeUnderConcurrentWriters() {
        let h = CommandHarness(shards: 32)
        for i in 0..<400 { h.run("SET", "stable:\(i)", "v") }
        let state = h.state
        let ok = runThreads(2) { t in
            let c = Client(id: 100 + t, server: state, output: ByteBuffer())
            for i in 0..<3000 {
                let args = i % 3 == 2 ? ["DEL", "w\(t):\(i - 1)"] : ["SET", "w\(t):\(i)", "x"]
                OwnedArguments(args).withArguments { Dispatcher.execute(c, $0) }
                c.output.clear()
            }
        }
        let seen = scanAll(h, ["MATCH", "stable:*", "COUNT", "3"])
        #expect(ok)
        #expect(Set(seen) == Set((0..<400).map { "stable:\($0)" }))
        #expect(seen.count == 400)
    }

    @Test func scanCursorParsing() {
        func p(_ s: String) -> UInt64? { Array(s.utf8).withUnsafeBytes { parseScanCursor($0) } }
        #expect(p("0") == 0)
        #expect(p("") == 0)
        #expect(p("+7") == 7)
        #expect(p("007") == 7)
        #expect(p("-1") == UInt64.max)
        #expect(p("18446744073709551615") == UInt64.max)
        #expect(p("18446744073709551616") == nil)
        #expect(p(" 1") == nil)
        #expect(p("1 ") == nil)
        #expect(p("-") == nil)
        #expect(p("0x10") == nil)
        #expect([UInt8]([0x35, 0, 0x61]).withUnsafeBytes { parseScanCursor($0) } == 5)
        let h = CommandHarness()
        #expect(h.run("SCAN", "abc") == "-ERR invalid cursor\r\n")
        #expect(h.run("SCAN", "99999") == "*2\r\n$1\r\n0\r\n*0\r\n")
        #expect(h.run("HSCAN", "nope", "x") == "-ERR invalid cursor\r\n")
    }

    @Test func hscanNoValuesAndSscan() {
        let h = CommandHarness()
        h.run("HSET", "h", "a", "1", "b", "2", "ab", "3")
        #expect(h.run("HSCAN", "h", "0", "NOVALUES") == "*2\r\n$1\r\n0\r\n*3\r\n$1\r\na\r\n$1\r\nb\r\n$2\r\nab\r\n")
        #expect(h.run("HSCAN", "h", "0", "MATCH", "a*", "NOVALUES") == "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$2\r\nab\r\n")
        #expect(h.run("HSCAN", "h", "0", "MATCH", "a*") == "*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$2\r\nab\r\n$1\r\n3\r\n")
        h.run("SADD", "s", "x", "y")
        #expect(h.run("SSCAN", "s", "0", "NOVALUES") == "-ERR syntax error\r\n")
        #expect(h.run("SSCAN", "s", "0", "TYPE", "set") == "-ERR syntax error\r\n")
        // A big hash (table form) comes back whole, cursor 0.
        for i in 0..<300 { h.run("HSET", "big", "f\(i)", "v") }
        let (cursor, items) = parseScan(h.run("HSCAN", "big", "0", "COUNT", "10"))
        #expect(cursor == "0" && items.count == 600)
    }

    @Test func renameCopyCarryTTLAcrossShards() {
        let h = CommandHarness(shards: 256)
        // Keys on different shards (no common hash tag).
        #expect(h.keyspace.shardIndex(keyBytes: "src") != h.keyspace.shardIndex(keyBytes: "other-name"))
        h.run("SET", "src", "v", "PX", "5000")
        #expect(h.run("RENAME", "src", "other-name") == "+OK\r\n")
        #expect(h.run("PTTL", "other-name") == ":5000\r\n")
        #expect(h.run("EXISTS", "src") == ":0\r\n")
        #expect(h.run("COPY", "other-name", "copy", "DB", "3") == ":1\r\n")
        h.clock.advance(milliseconds: 5001)
        h.expireUntilIdle()
        // Both names expire by the active cycle (each got its own timer-wheel record).
        #expect(!h.isStored("other-name"))
        h.run("SELECT", "3")
        #expect(h.run("DBSIZE") == ":0\r\n")
        // RENAME over a key with a TTL: the destination takes the source's (lack of) TTL.
        h.run("SELECT", "0")
        h.run("SET", "a", "1")
        h.run("SET", "b", "2", "EX", "100")
        h.run("RENAME", "a", "b")
        #expect(h.run("TTL", "b") == ":-1\r\n")
        #expect(h.run("GET", "b") == "$1\r\n1\r\n")
    }

    @Test func copyIsIndependent() {
        let h = CommandHarness()
        h.run("HSET", "h", "f", "1")
        h.run("SADD", "s", "m")
        h.run("COPY", "h", "h2")
        h.run("COPY", "s", "s2")
        h.run("HSET", "h2", "g", "2")
        h.run("SADD", "s2", "n")
        h.run("APPEND", "h3", "x")
        #expect(h.run("HLEN", "h") == ":1\r\n")
        #expect(h.run("SCARD", "s") == ":1\r\n")
        #expect(h.run("HLEN", "h2") == ":2\r\n")
    }

    @Test func swapdbMovesKeysAndTheirExpiry() {
        let h = CommandHarness(shards: 16)
        for i in 0..<100 { h.run("SET", "a\(i)", "v", "PX", "1000") }
        h.run("SELECT", "1")
        for i in 0..<30 { h.run("SET", "b\(i)", "v") }
        #expect(h.run("SWAPDB", "0", "1") == "+OK\r\n")
        #expect(h.run("DBSIZE") == ":100\r\n")
        #expect(h.run("PTTL", "a5") == ":1000\r\n")
        h.run("SELECT", "0")
        #expect(h.run("DBSIZE") == ":30\r\n")
        h.clock.advance(milliseconds: 1001)
        h.expireUntilIdle()
        h.run("SELECT", "1")
        // Active expiry found them under their new database (not just lazily).
        let stored = h.keyspace.shards.reduce(0) { n, s in s.lock.withLock { n + s.tables[1].count } }
        #expect(stored == 0)
        #expect(h.run("INFO", "keyspace").contains("db0:keys=30,expires=0"))
    }

    @Test func idletimeTimeAndLastsaveFollowTheClock() {
        let h = CommandHarness()
        h.run("SET", "k", "v")
        h.clock.advance(seconds: 100)
        let idle = Int(h.run("OBJECT", "IDLETIME", "k").dropFirst().dropLast())!
        #expect((99...101).contains(idle))
        // OBJECT does not count as an access; GET does.
        #expect(h.run("OBJECT", "IDLETIME", "k") == ":\(idle)\r\n")
        h.run("GET", "k")
        #expect(h.run("OBJECT", "IDLETIME", "k") == ":0\r\n")
        let now = h.clock.nowMilliseconds()
        #expect(h.run("TIME") == "*2\r\n$10\r\n\(now / 1000)\r\n$\(String((now % 1000) * 1000).count)\r\n\((now % 1000) * 1000)\r\n")
        #expect(h.run("LASTSAVE") == ":\(h.state.startedAt / 1000)\r\n")
    }

    @Test func objectEncodings() {
        let h = CommandHarness()
        h.run("SET", "i", "12345")
        h.run("SET", "e", String(repeating: "x", count: 44))
        h.run("SET", "r", String(repeating: "x", count: 45))
        h.run("HSET", "h", "f", "v")
        h.run("SADD", "s", "m")
        for i in 0..<200 { h.run("SADD", "bs", "m\(i)") }
        #expect(h.run("OBJECT", "ENCODING", "i") == "$3\r\nint\r\n")
        #expect(h.run("OBJECT", "ENCODING", "e") == "$6\r\nembstr\r\n")
        #expect(h.run("OBJECT", "ENCODING", "r") == "$3\r\nraw\r\n")
        #expect(h.run("OBJECT", "ENCODING", "h") == "$8\r\nlistpack\r\n")
        #expect(h.run("OBJECT", "ENCODING", "s") == "$8\r\nlistpack\r\n")
        #expect(h.run("OBJECT", "ENCODING", "bs") == "$9\r\nhashtable\r\n")
        #expect(h.run("OBJECT", "REFCOUNT", "s") == ":1\r\n")
        let usage = Int(h.run("MEMORY", "USAGE", "bs").dropFirst().dropLast())!
        #expect(usage > 200 * 4)
        #expect(h.run("MEMORY", "USAGE", "nope") == "$-1\r\n")
    }

    @Test func randomCommandsShapes() {
        let h = CommandHarness()
        h.run("HSET", "h", "a", "1", "b", "2", "c", "3")
        h.run("SADD", "s", "a", "b", "c")
        for _ in 0..<20 {
            #expect(["$1\r\na\r\n", "$1\r\nb\r\n", "$1\r\nc\r\n"].contains(h.run("HRANDFIELD", "h")))
            #expect(["$1\r\na\r\n", "$1\r\nb\r\n", "$1\r\nc\r\n"].contains(h.run("SRANDMEMBER", "s")))
            let two = h.run("SRANDMEMBER", "s", "2")
            #expect(two.hasPrefix("*2\r\n"))
            let parts = two.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
            #expect(parts[2] != parts[4], "distinct members expected")
            #expect(h.run("HRANDFIELD", "h", "-5", "WITHVALUES").hasPrefix("*10\r\n"))
        }
        // RESP3: WITHVALUES pairs are nested.
        h.client.resp3 = true
        #expect(h.run("HRANDFIELD", "h", "-2", "WITHVALUES").hasPrefix("*2\r\n*2\r\n"))
        #expect(h.run("SPOP", "s", "0") == "~0\r\n")
        h.client.resp3 = false
        // SPOP empties and deletes.
        let popped = h.run("SPOP", "s", "2")
        #expect(popped.hasPrefix("*2\r\n"))
        #expect(h.run("SCARD", "s") == ":1\r\n")
        h.run("SPOP", "s")
        #expect(h.run("EXISTS", "s") == ":0\r\n")
        #expect(h.run("RANDOMKEY") == "$1\r\nh\r\n")
        h.run("DEL", "h")
        #expect(h.run("RANDOMKEY") == "$-1\r\n")
    }

    @Test func randomkeySkipsExpiredKeys() {
        let h = CommandHarness(shards: 4)
        for i in 0..<50 { h.run("SET", "gone\(i)", "v", "PX", "10") }
        h.run("SET", "live", "v")
        h.clock.advance(milliseconds: 20)
        for _ in 0..<10 { #expect(h.run("RANDOMKEY") == "$4\r\nlive\r\n") }
    }

    @Test func noCrashOnHostileArguments() {
        let h = CommandHarness()
        h.run("SET", "s", "abc")
        h.run("HSET", "h", "f", "v")
        h.run("SADD", "set", "m")
        let hostile: [[String]] = [
            ["HRANDFIELD", "h", "-9223372036854775807"], ["HRANDFIELD", "h", "-4194305"],
            ["SRANDMEMBER", "set", "-9223372036854775807"], ["SPOP", "set", "9223372036854775807"],
            ["GETRANGE", "s", "-9223372036854775808", "9223372036854775807"],
            ["GETRANGE", "s", "9223372036854775807", "-9223372036854775808"],
            ["SETRANGE", "s", "9223372036854775807", "x"], ["SETRANGE", "s", "536870912", "x"],
            ["INCRBY", "n", "-9223372036854775808"], ["DECRBY", "n", "-9223372036854775808"],
            ["INCRBYFLOAT", "f", String(repeating: "9", count: 6000)],
            ["INCRBYFLOAT", "f", "1e4932"], ["INCRBYFLOAT", "f", "1e4932"],
            ["HINCRBYFLOAT", "h", "g", "1e-4950"], ["SCAN", "0", "COUNT", "9223372036854775807"],
            ["SINTERCARD", "9223372036854775807", "a"], ["SINTERCARD", "1", "set", "LIMIT", "9223372036854775807"],
            ["KEYS", String(repeating: "*a", count: 2000) + "b"], ["COPY", "s", "t", "DB", "-2147483648"],
            ["SWAPDB", "2147483647", "0"], ["OBJECT", "ENCODING", ""], ["MEMORY", "USAGE", "s", "SAMPLES", "0"],
            ["COMMAND", "GETKEYS", "sintercard", "-1", "a"], ["COMMAND", "GETKEYS", "object", "nope", "x"],
            ["CONFIG", "SET", "maxmemory-samples", "99999999999999999999"], ["HSCAN", "h", "0", "COUNT", "-1"],
            ["GETEX", "s", "PXAT", "9223372036854775807"], ["SET", "", ""], ["APPEND", "", ""], ["RENAME", "", "x"],
        ]
        for args in hostile {
            let r = h.run(args)
            #expect(!r.isEmpty, "\(args) gave no reply")
        }
        #expect(h.run("HRANDFIELD", "h", "-4194305") == "-ERR value is out of range\r\n")
    }

    @Test func longDoubleFormatting() {
        func f(_ s: String) -> String {
            let v = parseLongDouble(Array(s.utf8))!
            return String(decoding: formatLongDouble(v), as: UTF8.self)
        }
        #expect(f("10.5") == "10.5")
        #expect(f("5.0e3") == "5000")
        #expect(f("3.0") == "3")
        #expect(f("-0.0") == "0")
        #expect(f("0.1") == "0.1")
        #expect(f("1e-20") == "0")
        #expect(f("-1e-7") == "-0.0000001")
        #expect(parseLongDouble(Array(" 1".utf8)) == nil)
        #expect(parseLongDouble(Array("nan".utf8)) == nil)
        #expect(parseLongDouble(Array("1e5000".utf8)) == nil)
        #expect(parseLongDouble([0x31, 0x00]) == nil)
        #expect(parseLongDouble([]) == nil)
    }

    @Test func globMatchesLikeRedis() {
        func m(_ p: String, _ s: String, nocase: Bool = false) -> Bool { stringMatch(Array(p.utf8), Array(s.utf8), nocase: nocase) }
        // Redis's quirk, kept: "*" does not match the empty string (KEYS and SCAN special-case
        // a lone "*" before matching), while a trailing "*" matches nothing.
        #expect(!m("*", ""))
        #expect(m("a*", "a"))
        #expect(m("h?llo", "hello"))
        #expect(m("h*llo", "heeeello"))
        #expect(m("h[ae]llo", "hallo") && !m("h[ae]llo", "hillo"))
        #expect(m("h[^e]llo", "hallo") && !m("h[^e]llo", "hello"))
        #expect(m("h[a-b]llo", "hbllo") && m("h[b-a]llo", "hallo"))
        #expect(m("a\\*b", "a*b") && !m("a\\*b", "axb"))
        #expect(m("a\\", "a\\"))
        #expect(m("[abc", "a") && !m("[abc", "ab"))
        #expect(m("HELLO", "hello", nocase: true) && !m("HELLO", "hello"))
        #expect(m("*a*b", "xxaxxb") && !m("*a*b", "xxaxxc"))
        // Redis's skipLongerMatches: this would take forever with plain backtracking.
        let hostile = String(repeating: "*a", count: 30) + "b"
        #expect(!m(hostile, String(repeating: "a", count: 200)))
    }

    @Test func configSetGetResetstat() {
        let h = CommandHarness()
        #expect(h.run("CONFIG", "SET", "notify-keyspace-events", "KEA") == "+OK\r\n")
        #expect(h.run("CONFIG", "GET", "notify-keyspace-events") == "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n")
        #expect(h.run("CONFIG", "SET", "maxmemory", "1mb", "maxmemory-policy", "ALLKEYS-LRU") == "+OK\r\n")
        #expect(h.state.eviction.maxMemory == 1 << 20)
        #expect(h.state.eviction.policy == .allKeysLRU)
        // All or nothing: a bad second value leaves the first unchanged.
        #expect(h.run("CONFIG", "SET", "maxmemory", "2mb", "maxmemory-samples", "0")
                == "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 2147483647 inclusive\r\n")
        #expect(h.state.eviction.maxMemory == 1 << 20)
        #expect(h.run("CONFIG", "SET", "port", "1") == "-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n")
        #expect(h.run("CONFIG", "SET", "save", "3600 1 300 100") == "+OK\r\n")
        #expect(h.run("CONFIG", "GET", "save") == "*2\r\n$4\r\nsave\r\n$14\r\n3600 1 300 100\r\n")
        #expect(h.run("CONFIG", "SET", "save", "1 2 3").hasPrefix("-ERR CONFIG SET failed (possibly related to argument 'save')"))
        #expect(h.run("CONFIG", "SET", "appendonly", "maybe").hasPrefix("-ERR CONFIG SET failed"))
        #expect(h.run("CONFIG", "GET", "MAXMEMORY") == "*2\r\n$9\r\nMAXMEMORY\r\n$7\r\n1048576\r\n")
        #expect(h.run("CONFIG", "GET", "nosuch*") == "*0\r\n")
        h.run("GET", "missing")
        #expect(h.run("INFO", "stats").contains("keyspace_misses:1"))
        #expect(h.run("CONFIG", "RESETSTAT") == "+OK\r\n")
        #expect(h.run("INFO", "stats").contains("keyspace_misses:0"))
        #expect(h.state.runtimeConfig.get("save") == "3600 1 300 100")
    }

    @Test func commandGetkeys() {
        let h = CommandHarness()
        #expect(h.run("COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2") == "*2\r\n$1\r\na\r\n$1\r\nb\r\n")
        #expect(h.run("COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b", "LIMIT", "1") == "*2\r\n$1\r\na\r\n$1\r\nb\r\n")
        #expect(h.run("COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k") == "*1\r\n$1\r\nk\r\n")
        #expect(h.run("COMMAND", "GETKEYS", "PING", "x") == "-ERR The command has no key arguments\r\n")
        #expect(h.run("COMMAND", "GETKEYS", "NOPE", "x") == "-ERR Invalid command specified\r\n")
        #expect(h.run("COMMAND", "GETKEYS", "GET", "a", "b") == "-ERR Invalid number of arguments specified for command\r\n")
    }
}

extension Keyspace {
    func shardIndex(keyBytes: String) -> Int { Array(keyBytes.utf8).withUnsafeBytes { shardIndex($0) } }
}
