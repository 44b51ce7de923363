// Differential tests: the same requests to a real redis-server (7.x) and to Sesame, replies
// compared byte for byte (as multisets only where element order differs by design). Redis is
// the judge, errors included.

import Foundation
import Testing

@Suite("Differential against redis-server",
       .enabled(if: ExternalTools.redisServerEnabled, "redis-server is not on PATH (set CI=true to make this a failure)"))
struct DifferentialTests {

    @Test("PING, ECHO, SELECT, DBSIZE, FLUSHDB, FLUSHALL")
    func connectionAndServer() throws {
        let d = try Differential()
        try d.check("PING")
        try d.check("PING", "hello")
        try d.check("ping", "")
        try d.check("PING", "a", "b")
        try d.check("ECHO", "hi there")
        try d.check("ECHO", "")
        try d.check("ECHO")
        try d.check("ECHO", "a", "b")
        for db in ["0", "15", "16", "-1", "abc", "01", "1.5", "", "99999999999", "2147483648", "2147483647", "-2147483648", "-2147483649", "99999999999999999999", " 1", "+1"] {
            try d.check("SELECT", db)
        }
        try d.check("SELECT")
        try d.check("SELECT", "1", "2")
        try d.check("SELECT", "3")
        try d.check("SET", "in3", "v")
        try d.check("DBSIZE")
        try d.check("SELECT", "0")
        try d.check("DBSIZE")
        try d.check("EXISTS", "in3")
        try d.check("SELECT", "3")
        try d.check("GET", "in3")
        try d.check("DBSIZE", "x")
        try d.check("FLUSHDB", "x")
        try d.check("FLUSHDB", "async", "sync")
        try d.check("FLUSHDB", "SYNC")
        try d.check("DBSIZE")
        try d.check("SET", "a", "1")
        try d.check("SELECT", "0")
        try d.check("SET", "b", "1")
        try d.check("FLUSHDB", "ASYNC")
        try d.check("DBSIZE")
        try d.check("SELECT", "3")
        try d.check("DBSIZE")
        try d.check("FLUSHALL", "bad")
        try d.check("FLUSHALL", "ASYNC", "x")
        try d.check("FLUSHALL", "sync")
        try d.check("DBSIZE")
        try d.check("SET", "a", "1")
        try d.check("FLUSHALL", "async")
        try d.check("FLUSHALL")
        try d.check("DBSIZE")
        try d.check("INFO", "nosuchsection")
    }

    @Test("Unknown commands: quoted args, trailing space, 128-byte limits, binary and NUL bytes")
    func unknownCommands() throws {
        let d = try Differential()
        try d.check("FOO")
        try d.check("FOO", "a", "b")
        try d.check("foo", "a b", "", "c")
        try d.check("NOSUCHCOMMAND", "x")
        let long = String(repeating: "a", count: 150)
        try d.check("FOO", long, "b", "c")
        try d.check("FOO", String(repeating: "a", count: 115), "b", "c", "d", "e", "f")
        try d.check("FOO", String(repeating: "a", count: 121), "b", "c", "d", "e", "f")
        try d.check("FOO", String(repeating: "a", count: 123), "b", "c", "d", "e", "f")
        try d.check(args: ["F" + String(repeating: "O", count: 140), "x"])
        try d.check(args: ["FOO"] + (1...60).map { "arg\($0)" })
        // Binary bytes come back as sent; C's %s stops at a NUL; CR/LF become spaces.
        try d.checkRaw(RESPClient.encode([bytes("FOO"), [0xff, 0xfe]]))
        try d.checkRaw(RESPClient.encode([bytes("FOO"), [0x61, 0x00, 0x62]]))
        try d.checkRaw(RESPClient.encode([[0x46, 0x00, 0x4f], bytes("ab\n\r")]))
        try d.checkRaw(RESPClient.encode([[0x46, 0xff, 0x4f], bytes("x")]))
        try d.checkRaw(RESPClient.encode([[]]))
        try d.checkRaw(RESPClient.encode([[], bytes("x")]))
        // Unknown subcommands.
        try d.check("CLIENT", "SETNAME")
        try d.check("CLIENT", "GETNAME", "x")
        try d.check("CLIENT", "ID", "x")
        try d.check("CONFIG", "GET")
        try d.check("hGeTaLl", "nope")
        try d.check("CLIENT", "foo")
        try d.check("CLIENT", "foo", "bar")
        try d.checkRaw(RESPClient.encode([bytes("CLIENT"), [0xff, 0x00, 0x78]]))
        try d.check("CLIENT", String(repeating: "z", count: 140))
        try d.check("client")
        try d.check("COMMAND", "foo")
        try d.check("CONFIG", "foo")
    }

    @Test("DEL, UNLINK, EXISTS (duplicates counted), TYPE")
    func keyBasics() throws {
        let d = try Differential()
        try d.check("DEL")
        try d.check("UNLINK")
        try d.check("EXISTS")
        try d.check("TYPE")
        try d.check("TYPE", "a", "b")
        try d.check("SET", "k", "v")
        try d.check("HSET", "h", "f", "v")
        try d.check("SADD", "s", "m")
        try d.check("TYPE", "k")
        try d.check("TYPE", "h")
        try d.check("TYPE", "s")
        try d.check("TYPE", "nope")
        try d.check("EXISTS", "k")
        try d.check("EXISTS", "k", "k", "k")
        try d.check("EXISTS", "k", "h", "s", "nope", "k")
        try d.check("EXISTS", "nope")
        // Keys on many shards in one command.
        for i in 0..<40 { try d.check("SET", "key:\(i)", "\(i)") }
        try d.check(args: ["EXISTS"] + (0..<50).map { "key:\($0)" })
        try d.check(args: ["DEL"] + (0..<20).map { "key:\($0)" } + ["key:0", "nope"])
        try d.check(args: ["UNLINK"] + (15..<45).map { "key:\($0)" })
        try d.check("DBSIZE")
        try d.check("DEL", "k", "k")
        try d.check("UNLINK", "h", "s", "nope")
        try d.check("DEL", "nope")
        try d.check("DBSIZE")
        // Hash tags share a shard.
        try d.check("SET", "{u1}:a", "1")
        try d.check("SET", "{u1}:b", "1")
        try d.check("EXISTS", "{u1}:a", "{u1}:b", "{u1}:c")
        try d.check("DEL", "{u1}:a", "{u1}:b", "{u1}:c")
    }

    @Test("EXPIRE family: options, incompatible combinations, errors, past times, overflow")
    func expireFamily() throws {
        let d = try Differential()
        for cmd in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
            try d.check(cmd)
            try d.check(cmd, "k")
            try d.check(cmd, "nope", "100")
            try d.check(cmd, "k", "abc")
            try d.check(cmd, "k", "1.5")
            try d.check(cmd, "k", "")
            try d.check(cmd, "k", "100", "FOO")
            try d.check(cmd, "k", "abc", "FOO")
            try d.check(cmd, "k", "100", "NX", "XX")
            try d.check(cmd, "k", "100", "NX", "GT")
            try d.check(cmd, "k", "100", "NX", "LT")
            try d.check(cmd, "k", "100", "GT", "LT")
            try d.check(cmd, "k", "100", "lt", "gt")
            try d.check(cmd, "k", "abc", "GT", "LT")
            try d.check(cmd, "k", "100", "FOO", "NX", "XX")
            try d.check(cmd, "k", "100", "NX", "XX", "FOO")
            try d.check(cmd, "nope", "100", "NX", "NX")
        }
        let now = Int(Date().timeIntervalSince1970)
        // Relative, seconds.
        try d.check("SET", "k", "v")
        try d.check("EXPIRE", "k", "1000")
        try d.check("TTL", "k")
        try d.check("EXPIRE", "k", "2000", "NX")
        try d.check("EXPIRE", "k", "2000", "XX")
        try d.check("TTL", "k")
        try d.check("EXPIRE", "k", "1000", "GT")
        try d.check("EXPIRE", "k", "3000", "GT")
        try d.check("TTL", "k")
        try d.check("EXPIRE", "k", "5000", "LT")
        try d.check("EXPIRE", "k", "1500", "LT")
        try d.check("TTL", "k")
        try d.check("EXPIRE", "k", "1000", "XX", "GT")
        try d.check("EXPIRE", "k", "1000", "xx", "lt")
        try d.check("TTL", "k")
        try d.check("PERSIST", "k")
        try d.check("EXPIRE", "k", "1000", "XX")
        try d.check("EXPIRE", "k", "1000", "GT")
        try d.check("EXPIRE", "k", "1000", "LT")
        try d.check("TTL", "k")
        try d.check("PERSIST", "k")
        try d.check("EXPIRE", "k", "1000", "NX")
        try d.check("TTL", "k")
        // A negative or zero TTL deletes the key, unless an option refuses first.
        try d.check("EXPIRE", "k", "-5", "NX")
        try d.check("EXPIRE", "k", "-5", "GT")
        try d.check("EXISTS", "k")
        try d.check("EXPIRE", "k", "-5", "LT")
        try d.check("EXISTS", "k")
        try d.check("SET", "k", "v")
        try d.check("EXPIRE", "k", "-5", "XX")
        try d.check("EXPIRE", "k", "-5", "GT")
        try d.check("EXISTS", "k")
        try d.check("EXPIRE", "k", "0")
        try d.check("EXISTS", "k")
        for (cmd, t) in [("EXPIRE", "-1"), ("PEXPIRE", "0"), ("PEXPIRE", "-100"), ("EXPIREAT", "1"),
                         ("EXPIREAT", "\(now - 10)"), ("PEXPIREAT", "1000"), ("PEXPIREAT", "-1"), ("EXPIREAT", "0")] {
            try d.check("SET", "k", "v")
            try d.check(cmd, "k", t)
            try d.check("EXISTS", "k")
            try d.check("GET", "k")
        }
        // Absolute times in the future, and milliseconds.
        try d.check("HSET", "h", "f", "v")
        try d.check("EXPIREAT", "h", "\(now + 5000)")
        try d.checkInteger("TTL", "h", in: 4990...5000)
        try d.check("PEXPIRE", "h", "3000000")
        try d.check("TTL", "h")
        try d.checkInteger("PTTL", "h", in: 2_990_000...3_000_000)
        try d.check("PEXPIREAT", "h", "\(now * 1000 + 7_000_000)")
        try d.checkInteger("TTL", "h", in: 6990...7000)
        try d.check("EXPIREAT", "h", "\(now + 100)", "GT")
        try d.check("EXPIREAT", "h", "\(now + 100)", "LT")
        try d.checkInteger("TTL", "h", in: 90...100)
        try d.check("SADD", "s", "m")
        try d.check("EXPIRE", "s", "1000")
        try d.check("TTL", "s")
        // Overflow: invalid expire time, the key untouched.
        try d.check("SET", "k", "v")
        for (cmd, t) in [("EXPIRE", "9223372036854775807"), ("EXPIRE", "9223372036854775"),
                         ("EXPIRE", "9223372036854774"), ("EXPIRE", "-9223372036854775808"),
                         ("EXPIRE", "-9223372036854775"), ("EXPIRE", "-9223372036854776"),
                         ("PEXPIRE", "9223372036854775807"), ("PEXPIRE", "9223372036854770000"),
                         ("EXPIREAT", "9223372036854775807"), ("EXPIREAT", "9223372036854776"),
                         ("EXPIREAT", "-9223372036854776"), ("EXPIRE", "9223372036854775808"),
                         ("PEXPIRE", "-9223372036854775809")] {
            try d.check(cmd, "k", t)
            try d.check("TTL", "k")
        }
        // Far deadlines (TTL is time-dependent here: compared as a range).
        try d.check("SET", "k", "v")
        try d.check("EXPIREAT", "k", "9223372036854775")
        try d.checkInteger("TTL", "k", in: (9223372036854775 - now - 5)...(9223372036854775 - now))
        try d.check("SET", "k", "v")
        try d.check("EXPIREAT", "k", "922337203685477", "NX")
        try d.checkInteger("TTL", "k", in: (922337203685477 - now - 5)...(922337203685477 - now))
        // TTL, PTTL, PERSIST basics.
        try d.check("TTL", "nope")
        try d.check("PTTL", "nope")
        try d.check("TTL")
        try d.check("PTTL", "a", "b")
        try d.check("SET", "p", "v")
        try d.check("TTL", "p")
        try d.check("PTTL", "p")
        try d.check("PERSIST", "p")
        try d.check("PERSIST", "nope")
        try d.check("PERSIST")
        try d.check("PERSIST", "a", "b")
        try d.check("PEXPIRE", "p", "5000000")
        try d.check("PERSIST", "p")
        try d.check("PERSIST", "p")
        try d.check("TTL", "p")
        try d.check("PTTL", "p")
    }

    /// Deadlines at the very top of the Int64 range are accepted by Redis. Sesame's timer wheel
    /// once overflowed on them (a crash that took the whole server down).
    @Test("Deadlines near Int64.max (SET PXAT, PEXPIREAT)")
    func extremeDeadlines() throws {
        let d = try Differential()
        let nowMs = Int(Date().timeIntervalSince1970 * 1000)
        for (cmd, deadline) in [(["PEXPIREAT", "k", "9223372036854775807"], Int.max),
                                (["PEXPIREAT", "k", "9223372036854775800"], Int.max - 7),
                                (["SET", "k", "v", "PXAT", "9223372036854775807"], Int.max),
                                (["SET", "k", "v", "EXAT", "9223372036854775"], 9223372036854775000)] {
            try d.check("SET", "k", "v")
            try d.check(args: cmd)
            let ttl = (deadline - nowMs) / 1000
            try d.checkInteger("TTL", "k", in: (ttl - 10)...(ttl + 1))
            try d.check("GET", "k")
        }
    }

    @Test("GET, SET and every option, with invalid combinations and orders")
    func setOptions() throws {
        let d = try Differential()
        try d.check("GET")
        try d.check("GET", "a", "b")
        try d.check("GET", "nope")
        try d.check("SET")
        try d.check("SET", "k")
        try d.check("SET", "k", "v")
        try d.check("GET", "k")
        try d.check("SET", "k", "")
        try d.check("GET", "k")
        let bad: [[String]] = [
            ["EX", "10", "PX", "10"], ["EX"], ["PX"], ["EXAT"], ["PXAT"], ["EX", "0"], ["EX", "-1"], ["PX", "0"],
            ["PX", "-10"], ["EXAT", "0"], ["PXAT", "-5"], ["NX", "XX"], ["XX", "NX"], ["KEEPTTL", "EX", "10"],
            ["EX", "10", "KEEPTTL"], ["PX", "10", "KEEPTTL"], ["KEEPTTL", "PXAT", "10"], ["EX", "abc"], ["EX", "1.5"],
            ["EX", ""], ["FOO"], ["EX", "10", "FOO"], ["EX", "abc", "FOO"], ["FOO", "EX", "abc"], ["EX", "10", "EXAT", "100"],
            ["EXAT", "100", "PXAT", "100"], ["PX", "10", "EX", "10"], ["EX", "10", "EX"], ["NX", "NX", "XX"],
            ["EX", "9223372036854775807"], ["EX", "9223372036854775"], ["EX", "9223372036854774"],
            ["PX", "9223372036854775807"], ["EXAT", "9223372036854775807"], ["EXAT", "9223372036854776"],
            ["EX", "9223372036854775808"], ["GET", "GET", "FOO"], ["KEEPTTL", "KEEPTTL", "EX", "1"],
        ]
        for opts in bad {
            try d.check(args: ["SET", "k", "v"] + opts)
            try d.check("GET", "k")
        }
        // Repeated identical options are accepted (the last value wins).
        for opts in [["EX", "10", "EX", "1000"], ["PX", "10", "PX", "1000000"], ["NX", "NX"], ["XX", "XX"],
                     ["GET", "GET"], ["KEEPTTL", "KEEPTTL"], ["ex", "1000"], ["Ex", "1000", "get"]] {
            try d.check("SET", "k", "old")
            try d.check(args: ["SET", "k", "v"] + opts)
            try d.check("TTL", "k")
        }
        // NX / XX / GET.
        try d.check("DEL", "k")
        try d.check("SET", "k", "v1", "XX")
        try d.check("GET", "k")
        try d.check("SET", "k", "v1", "NX")
        try d.check("SET", "k", "v2", "NX")
        try d.check("GET", "k")
        try d.check("SET", "k", "v3", "XX")
        try d.check("SET", "k", "v4", "GET")
        try d.check("SET", "k", "v5", "NX", "GET")
        try d.check("SET", "k", "v6", "XX", "GET")
        try d.check("SET", "new", "v", "XX", "GET")
        try d.check("SET", "new", "v", "NX", "GET")
        try d.check("SET", "new2", "v", "GET")
        try d.check("GET", "new2")
        // Expiry options.
        try d.check("SET", "k", "v", "EX", "1000")
        try d.check("TTL", "k")
        try d.check("SET", "k", "v", "PX", "2000000")
        try d.check("TTL", "k")
        let now = Int(Date().timeIntervalSince1970)
        try d.check("SET", "k", "v", "EXAT", "\(now + 3000)")
        try d.checkInteger("TTL", "k", in: 2990...3000)
        try d.check("SET", "k", "v", "PXAT", "\(now * 1000 + 4_000_000)")
        try d.checkInteger("TTL", "k", in: 3990...4000)
        try d.check("SET", "k", "v", "EXAT", "\(now - 10)")
        try d.check("EXISTS", "k")
        try d.check("SET", "k", "v", "PXAT", "1")
        try d.check("GET", "k")
        try d.check("SET", "k", "v", "EX", "1000")
        try d.check("SET", "k", "v2", "KEEPTTL")
        try d.check("TTL", "k")
        try d.check("SET", "k", "v3", "KEEPTTL", "GET")
        try d.check("TTL", "k")
        try d.check("SET", "k", "v4")
        try d.check("TTL", "k")
        try d.check("SET", "k", "v", "GET", "EX", "1000")
        try d.check("TTL", "k")
        try d.check("SET", "k", "v", "NX", "GET", "EX", "5000")
        try d.check("TTL", "k")
        try d.check("SET", "k", "v", "XX", "KEEPTTL", "GET")
        try d.check("TTL", "k")
        try d.check("SET", "k", "v", "EX", "1000", "NX")
        try d.check("SET", "k", "v", "ex", "2000", "xx")
        try d.check("TTL", "k")
        // GET and NX/XX on other types.
        try d.check("HSET", "h", "f", "v")
        try d.check("GET", "h")
        try d.check("SET", "h", "v", "GET")
        try d.check("TYPE", "h")
        try d.check("SET", "h", "v", "NX", "GET")
        try d.check("SET", "h", "v", "XX", "GET")
        try d.check("SET", "h", "v", "NX")
        try d.check("TYPE", "h")
        try d.check("SET", "h", "v", "XX")
        try d.check("GET", "h")
        try d.check("SADD", "s", "m")
        try d.check("SET", "s", "v")
        try d.check("GET", "s")
        // Binary-safe values.
        try d.checkRaw(RESPClient.encode([bytes("SET"), [0, 1, 0xff], [13, 10, 0, 0x80]]))
        try d.checkRaw(RESPClient.encode([bytes("GET"), [0, 1, 0xff]]))
        let big = String(repeating: "x", count: 100_000)
        try d.check("SET", "big", big)
        try d.check("GET", "big")
    }

    @Test("SETEX, PSETEX, SETNX")
    func setVariants() throws {
        let d = try Differential()
        try d.check("SETEX", "k", "1000", "v")
        try d.check("TTL", "k")
        try d.check("GET", "k")
        for t in ["0", "-1", "abc", "", "1.5", "9223372036854775807", "9223372036854775", "9223372036854775808"] {
            try d.check("SETEX", "k", t, "v2")
            try d.check("PSETEX", "k", t, "v3")
            try d.check("GET", "k")
        }
        try d.check("SETEX", "k", "10")
        try d.check("SETEX", "k", "10", "v", "x")
        try d.check("PSETEX", "k", "10")
        try d.check("PSETEX", "k", "3000000", "pv")
        try d.check("TTL", "k")
        try d.checkInteger("PTTL", "k", in: 2_990_000...3_000_000)
        try d.check("GET", "k")
        try d.check("HSET", "h", "f", "v")
        try d.check("SETEX", "h", "1000", "now a string")
        try d.check("GET", "h")
        try d.check("TTL", "h")
        try d.check("SETNX", "k", "x")
        try d.check("SETNX", "n", "x")
        try d.check("GET", "n")
        try d.check("TTL", "n")
        try d.check("SETNX", "n")
        try d.check("SETNX", "n", "a", "b")
        try d.check("SADD", "s", "m")
        try d.check("SETNX", "s", "x")
        try d.check("TYPE", "s")
        try d.check("SET", "k", "v", "EX", "1000")
        try d.check("SETEX", "k", "2000", "v")
        try d.check("TTL", "k")
        try d.check("SETNX", "k", "w")
        try d.check("TTL", "k")
    }

    @Test("Hashes: HSET/HMSET, HGET, HMGET, HGETALL, HDEL, HLEN, HEXISTS, WRONGTYPE")
    func hashes() throws {
        let d = try Differential()
        try d.check("HSET")
        try d.check("HSET", "h")
        try d.check("HSET", "h", "f")
        try d.check("HSET", "h", "f", "v", "g")
        try d.check("HMSET", "h", "f")
        try d.check("HMSET", "h", "f", "v", "g")
        try d.check("EXISTS", "h")
        try d.check("HSET", "h", "f", "v")
        try d.check("HSET", "h", "f", "v2", "x", "y", "a", "1")
        try d.check("HSET", "h", "f", "v3", "f", "v4")
        try d.check("HMSET", "h", "b", "2", "c", "3")
        try d.check("HGETALL", "h")
        try d.check("HGET", "h", "f")
        try d.check("HGET", "h", "nope")
        try d.check("HGET", "nope", "f")
        try d.check("HGET", "h")
        try d.check("HGET", "h", "f", "g")
        try d.check("HMGET", "h", "f", "nope", "b", "f")
        try d.check("HMGET", "nope", "a", "b")
        try d.check("HMGET", "h")
        try d.check("HLEN", "h")
        try d.check("HLEN", "nope")
        try d.check("HLEN")
        try d.check("HEXISTS", "h", "f")
        try d.check("HEXISTS", "h", "nope")
        try d.check("HEXISTS", "nope", "f")
        try d.check("HEXISTS", "h")
        try d.check("HDEL", "h")
        try d.check("HDEL", "h", "nope")
        try d.check("HDEL", "nope", "f")
        try d.check("HDEL", "h", "f", "x", "f")
        try d.check("HGETALL", "h")
        try d.check("HGETALL", "nope")
        try d.check("HGETALL")
        // Order of a small hash: insertion order, updates in place, deletes close the gap.
        try d.check("HSET", "o", "z", "1", "a", "2", "m", "3")
        try d.check("HSET", "o", "a", "9")
        try d.check("HDEL", "o", "z")
        try d.check("HSET", "o", "z", "1", "b", "")
        try d.check("HGETALL", "o")
        // Deleting the last field deletes the key, and its TTL with it.
        try d.check("EXPIRE", "o", "1000")
        try d.check("HDEL", "o", "a", "m", "z", "b")
        try d.check("EXISTS", "o")
        try d.check("TTL", "o")
        try d.check("HSET", "o", "f", "v")
        try d.check("TTL", "o")
        // Updating a hash keeps its TTL.
        try d.check("EXPIRE", "o", "1000")
        try d.check("HSET", "o", "g", "w")
        try d.check("TTL", "o")
        // WRONGTYPE everywhere.
        try d.check("SET", "str", "v")
        try d.check("SADD", "set", "m")
        for key in ["str", "set"] {
            try d.check("HSET", key, "f", "v")
            try d.check("HMSET", key, "f", "v")
            try d.check("HGET", key, "f")
            try d.check("HMGET", key, "f", "g")
            try d.check("HGETALL", key)
            try d.check("HDEL", key, "f")
            try d.check("HLEN", key)
            try d.check("HEXISTS", key, "f")
        }
        // Arity errors win over WRONGTYPE; odd HSET args are an arity error too.
        try d.check("HSET", "str", "f")
        try d.check("HSET", "str", "f", "v", "g")
        // A session-like hash: 7 fields, one value over 64 bytes (Redis then uses a hashtable:
        // compare as pairs).
        let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
        try d.check("HSET", "sess", "user", "42", "created", "1700000000", "ua", ua, "ip", "10.0.0.1",
                    "csrf", "abcdef", "flash", "", "cart", "[1,2,3]")
        try d.checkUnordered("HGETALL", "sess", pairs: true)
        try d.check("HMGET", "sess", "ua", "user", "nope", "flash")
        try d.check("HLEN", "sess")
        try d.check("HGET", "sess", "ua")
        // Empty field names and values, binary fields.
        try d.check("HSET", "e", "", "")
        try d.check("HGETALL", "e")
        try d.check("HEXISTS", "e", "")
        try d.checkRaw(RESPClient.encode([bytes("HSET"), bytes("bin"), [0, 0xff], [1, 2, 13, 10]]))
        try d.checkRaw(RESPClient.encode([bytes("HGET"), bytes("bin"), [0, 0xff]]))
        try d.check("HGETALL", "bin")
    }

    @Test("Big hashes and sets (order differs by design: compared as multisets)")
    func bigCollections() throws {
        let d = try Differential()
        for batch in 0..<10 {
            var hset = ["HSET", "big"]
            var sadd = ["SADD", "bigset"]
            for i in 0..<50 {
                let n = batch * 50 + i
                hset += ["field:\(n)", "value-\(n)"]
                sadd += ["member:\(n)"]
            }
            try d.check(args: hset)
            try d.check(args: sadd)
        }
        try d.checkUnordered("HGETALL", "big", pairs: true)
        try d.checkUnordered("SMEMBERS", "bigset")
        try d.check("HLEN", "big")
        try d.check("SCARD", "bigset")
        try d.check("HMGET", "big", "field:0", "field:499", "field:500", "field:250")
        try d.check("SISMEMBER", "bigset", "member:499")
        try d.check("SISMEMBER", "bigset", "member:500")
        try d.check(args: ["HDEL", "big"] + (0..<400).map { "field:\($0)" })
        try d.check(args: ["SREM", "bigset"] + (0..<400).map { "member:\($0)" })
        try d.checkUnordered("HGETALL", "big", pairs: true)
        try d.checkUnordered("SMEMBERS", "bigset")
        try d.check(args: ["HDEL", "big"] + (0..<500).map { "field:\($0)" })
        try d.check(args: ["SREM", "bigset"] + (0..<500).map { "member:\($0)" })
        try d.check("EXISTS", "big", "bigset")
        // Listpack limits: 128 fields of values up to 64 bytes keep insertion order in Redis,
        // byte-identical; a 65-byte value or a 129th field switches Redis to a hashtable.
        let v64 = String(repeating: "x", count: 64)
        try d.check(args: ["HSET", "lp"] + (0..<128).flatMap { ["f\(127 - $0)", $0 == 5 ? v64 : "\($0)"] })
        try d.check("HGETALL", "lp")
        try d.check("HSET", "lp", "f3", "updated")
        try d.check("HGETALL", "lp")
        try d.check("HSET", "lp", "f200", "one more")
        try d.checkUnordered("HGETALL", "lp", pairs: true)
        try d.check("HSET", "lp65", "a", "1", "b", v64 + "y", "c", "3")
        try d.checkUnordered("HGETALL", "lp65", pairs: true)
        // Integer-only sets (an intset in Redis) and long members.
        try d.check("SADD", "ints", "1", "2", "3", "10", "-5", "007", "1")
        try d.checkUnordered("SMEMBERS", "ints")
        try d.check("SADD", "long", String(repeating: "m", count: 5000), "short")
        try d.checkUnordered("SMEMBERS", "long")
        try d.check("HSET", "longh", "f", String(repeating: "v", count: 5000), "g", "w")
        try d.checkUnordered("HGETALL", "longh", pairs: true)
        try d.check("HGET", "longh", "f")
    }

    @Test("Sets: SADD, SREM, SMEMBERS, SISMEMBER, SCARD, WRONGTYPE")
    func sets() throws {
        let d = try Differential()
        try d.check("SADD")
        try d.check("SADD", "s")
        try d.check("SADD", "s", "a", "b", "c", "a")
        try d.check("SADD", "s", "a", "d")
        try d.checkUnordered("SMEMBERS", "s")
        try d.check("SMEMBERS", "nope")
        try d.check("SMEMBERS")
        try d.check("SMEMBERS", "s", "x")
        try d.check("SISMEMBER", "s", "a")
        try d.check("SISMEMBER", "s", "z")
        try d.check("SISMEMBER", "nope", "z")
        try d.check("SISMEMBER", "s")
        try d.check("SCARD", "s")
        try d.check("SCARD", "nope")
        try d.check("SCARD")
        try d.check("SREM", "s")
        try d.check("SREM", "s", "z")
        try d.check("SREM", "nope", "a")
        try d.check("SREM", "s", "a", "b", "a")
        try d.checkUnordered("SMEMBERS", "s")
        try d.check("SADD", "one", "x")
        try d.check("SMEMBERS", "one")
        // Removing the last member deletes the key, and its TTL with it.
        try d.check("EXPIRE", "s", "1000")
        try d.check("SREM", "s", "c", "d")
        try d.check("EXISTS", "s")
        try d.check("TTL", "s")
        try d.check("SADD", "s", "")
        try d.check("SMEMBERS", "s")
        try d.check("SISMEMBER", "s", "")
        try d.check("SET", "str", "v")
        try d.check("HSET", "h", "f", "v")
        for key in ["str", "h"] {
            try d.check("SADD", key, "a")
            try d.check("SREM", key, "a")
            try d.check("SMEMBERS", key)
            try d.check("SISMEMBER", key, "a")
            try d.check("SCARD", key)
        }
    }

    @Test("Inline commands: quoting, escapes, unbalanced quotes, blank lines and *0 ignored")
    func inlineCommands() throws {
        let d = try Differential()
        try d.checkRaw("PING\r\n")
        try d.checkRaw("PING\n")
        try d.checkRaw("ping hello\r\n")
        try d.checkRaw("   ECHO    spaced    \r\n")
        try d.checkRaw("SET \"a b\" 'c d'\r\n")
        try d.checkRaw("GET \"a b\"\r\n")
        try d.checkRaw("ECHO \"\\x41\\x42\\x4g\\q\\n\\t\\\"\"\r\n")
        try d.checkRaw("ECHO 'it\\'s' \r\n")
        try d.checkRaw("ECHO \"\"\r\n")
        try d.checkRaw("ECHO ''\r\n")
        try d.checkRaw("ECHO \"x\\\\y\"\r\n")
        try d.checkRaw("FOO \"a b\" c\r\n")
        try d.checkRaw("SET k \"\\xff\\x00z\"\r\n")
        try d.checkRaw("GET k\r\n")
        try d.checkRaw("PING\rx\n")
        try d.checkRaw("HSET h 'f 1' \"v\\t1\"\r\n")
        try d.checkRaw("HGETALL h\r\n")
        try d.checkRaw(bytes("HGET h \"f 1\"\r\n"))
        try d.checkSilent(bytes("\r\n"))
        try d.checkSilent(bytes("\n"))
        try d.checkSilent(bytes("   \r\n"))
        try d.checkSilent(bytes("*0\r\n"))
        try d.checkSilent(bytes("*-1\r\n"))
        try d.checkSilent(bytes("*-5\r\n"))
        try d.checkSilent(bytes("\r\n*0\r\n\r\n*0\r\n"))
        // Unbalanced quotes: a protocol error, then the connection closes.
        try d.checkProtocolError("ECHO \"abc\r\n")
        try d.checkProtocolError("ECHO 'abc\r\n")
        try d.checkProtocolError("ECHO \"a\"b\r\n")
        try d.checkProtocolError("ECHO 'a'b\r\n")
        // A valid command first: answered, then the error, then the close.
        try d.reconnect()
        try d.checkRaw("SET k v\r\nECHO \"oops\r\n")
        let (ra, sa) = (try d.r.readReply(), try d.s.readReply())
        let same = ra == sa
        #expect(same, "redis: \(printable(ra)) sesame: \(printable(sa))")
        #expect(try d.r.waitForClose())
        #expect(try d.s.waitForClose())
    }

    @Test("Multibulk protocol errors: same error bytes, then both close")
    func protocolErrors() throws {
        let d = try Differential()
        try d.checkProtocolError("*1\r\n$abc\r\n")
        try d.checkProtocolError("*1\r\nx4\r\nPING\r\n")
        try d.checkProtocolError("*2\r\n$4\r\nECHO\r\n:1\r\n")
        try d.checkProtocolError("*2\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n")
        try d.checkProtocolError("*abc\r\n")
        try d.checkProtocolError("*+1\r\n")
        try d.checkProtocolError("*01\r\n$4\r\nPING\r\n")
        try d.checkProtocolError("*1\r\n$-1\r\n")
        try d.checkProtocolError("*1\r\n$04\r\nPING\r\n")
        try d.checkProtocolError("*1\r\n$ 4\r\nPING\r\n")
        try d.checkProtocolError("*3000000000\r\n")
        try d.checkProtocolError("*1\r\n$600000000\r\n")
        try d.checkProtocolError("*1\r\n$536870913\r\n")
        try d.checkProtocolError(bytes("*") + [UInt8](repeating: UInt8(ascii: "1"), count: 70_000))
        try d.checkProtocolError(bytes("*1\r\n$") + [UInt8](repeating: UInt8(ascii: "1"), count: 70_000))
        try d.checkProtocolError([UInt8](repeating: UInt8(ascii: "A"), count: 70_000))
        // Valid commands before the error are answered first.
        try d.reconnect()
        let raw = bytes("PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n")
        let (a1, b1) = try d.replies(raw)
        let (a2, b2) = (try d.r.readReply(), try d.s.readReply())
        let (a3, b3) = (try d.r.readReply(), try d.s.readReply())
        let same = [a1, a2, a3] == [b1, b2, b3]
        #expect(same, "redis: \(printable(a1 + a2 + a3)) sesame: \(printable(b1 + b2 + b3))")
        #expect(try d.s.waitForClose())
        try d.reconnect()
        // Not errors: a declared bulk length is trusted, the trailing CRLF is not checked.
        try d.checkRaw("*1\r\n$4\r\nPINGxx")
        try d.reconnect()
        // An inline command just under the 64 KB limit still works.
        try d.checkRaw(bytes("ECHO ") + [UInt8](repeating: UInt8(ascii: "A"), count: 65_000) + bytes("\r\n"))
    }

    @Test("RESP3 after HELLO 3: maps, sets, nulls; HELLO 2 goes back")
    func resp3() throws {
        let d = try Differential()
        let (r3, s3) = try d.replies(RESPClient.encode(["HELLO", "3"]))
        try expectHelloShape(r3, proto: 3, who: "redis")
        try expectHelloShape(s3, proto: 3, who: "sesame")
        try d.check("HSET", "h", "a", "1", "b", "2")
        try d.check("HGETALL", "h")
        try d.check("HGETALL", "nope")
        try d.check("SADD", "s", "x")
        try d.check("SMEMBERS", "s")
        try d.check("SADD", "s2", "x", "y", "z")
        try d.checkUnordered("SMEMBERS", "s2")
        try d.check("SMEMBERS", "nope")
        try d.check("GET", "nope")
        try d.check("HGET", "h", "nope")
        try d.check("HMGET", "h", "a", "nope")
        try d.check("SET", "k", "v")
        try d.check("SET", "k", "v", "NX")
        try d.check("SET", "k", "v2", "NX", "GET")
        try d.check("SET", "n", "v", "XX", "GET")
        try d.check("SISMEMBER", "s", "x")
        try d.check("EXISTS", "k")
        try d.check("TTL", "nope")
        try d.check("PING")
        try d.check("ECHO", "x")
        try d.check("FOO", "bar")
        try d.check("TYPE", "h")
        try d.check("CLIENT", "GETNAME")
        for i in 0..<200 { try d.check("HSET", "bigh", "f\(i)", "v\(i)") }
        try d.checkUnordered("HGETALL", "bigh")
        let (r2, s2) = try d.replies(RESPClient.encode(["HELLO", "2"]))
        try expectHelloShape(r2, proto: 2, who: "redis")
        try expectHelloShape(s2, proto: 2, who: "sesame")
        try d.check("HGETALL", "h")
        try d.check("GET", "nope")
        try d.check("SMEMBERS", "s")
        let (r0, s0) = try d.replies(RESPClient.encode(["HELLO"]))
        try expectHelloShape(r0, proto: 2, who: "redis")
        try expectHelloShape(s0, proto: 2, who: "sesame")
        // HELLO errors.
        for args in [["HELLO", "4"], ["HELLO", "1"], ["HELLO", "abc"], ["HELLO", "2", "foo"], ["HELLO", "3", "AUTH", "default"],
                     ["HELLO", "2", "SETNAME"], ["HELLO", "2", "SETNAME", "a b"], ["HELLO", "-1"]] {
            try d.check(args: args)
        }
        // HELLO with AUTH (the default user has no password: any password) and SETNAME.
        for args in [["HELLO", "3", "AUTH", "default", "anything"], ["HELLO", "2", "SETNAME", "myname"],
                     ["HELLO", "2", "AUTH", "default", "pw", "SETNAME", "n1"], ["HELLO", "3", "SETNAME", "n2", "AUTH", "default", "x"],
                     ["HELLO", "2", "SETNAME", "n3", "SETNAME", "n4"], ["HELLO", "2", "SETNAME", ""]] {
            let (ra, sa) = try d.replies(RESPClient.encode(args))
            let proto = args[1] == "3" ? 3 : 2
            try expectHelloShape(ra, proto: proto, who: "redis \(args)")
            try expectHelloShape(sa, proto: proto, who: "sesame \(args)")
            try d.check("CLIENT", "GETNAME")
        }
        try d.check("HELLO", "2", "AUTH", "foo", "bar")
        try d.check("HELLO", "2", "AUTH", "default")
        try d.check("HGETALL", "h")
        try d.check("AUTH")
        try d.check("AUTH", "default", "x")
        try d.check("AUTH", "nobody", "x")
        try d.check("CLIENT", "SETNAME", "a\nb")
        try d.check("CLIENT", "SETNAME", "a\u{01}b")
        try d.check("CLIENT", "SETNAME", "a~b")
        try d.check("CLIENT", "GETNAME")
        try d.check("AUTH", "x")
        try d.check("AUTH", "a", "b", "c")
        try d.check("CLIENT", "SETNAME", "a b")
        try d.check("CLIENT", "SETNAME", "conn1")
        try d.check("CLIENT", "GETNAME")
        try d.check("CLIENT", "GETNAME", "x")
        try d.check("CLIENT", "SETNAME", "")
        try d.check("CLIENT", "GETNAME")
        try d.check("QUIT")
        #expect(try d.r.waitForClose())
        #expect(try d.s.waitForClose())
    }

    /// HELLO's reply differs in version (7.0.15 vs 7.2.4) and id, so its shape is checked.
    private func expectHelloShape(_ raw: [UInt8], proto: Int, who: String) throws {
        let v = try RESPValue.parse(raw)
        var pairs: [(RESPValue, RESPValue)] = []
        switch (proto, v) {
        case (3, .map(let m)): pairs = m
        case (2, .array(let a)) where a.count == 14:
            pairs = stride(from: 0, to: 14, by: 2).map { (a[$0], a[$0 + 1]) }
        default:
            Issue.record("\(who): HELLO \(proto) replied \(v)")
            return
        }
        let keys = pairs.map { $0.0 }
        #expect(keys == ["server", "version", "proto", "id", "mode", "role", "modules"].map { RESPValue.bulk(bytes($0)) },
                "\(who): HELLO keys \(keys)")
        #expect(pairs[0].1 == .bulk(bytes("redis")), "\(who): server \(pairs[0].1)")
        if case .bulk(let ver) = pairs[1].1 {
            #expect(String(decoding: ver, as: UTF8.self).hasPrefix("7."), "\(who): version")
        } else { Issue.record("\(who): version is not a bulk string: \(pairs[1].1)") }
        #expect(pairs[2].1 == .integer(proto), "\(who): proto \(pairs[2].1)")
        if case .integer = pairs[3].1 {} else { Issue.record("\(who): id is not an integer: \(pairs[3].1)") }
        #expect(pairs[4].1 == .bulk(bytes("standalone")), "\(who): mode")
        #expect(pairs[5].1 == .bulk(bytes("master")), "\(who): role")
        #expect(pairs[6].1 == .array([]), "\(who): modules")
    }

    @Test("Expired keys vanish the same way (real time, short TTLs)")
    func realTimeExpiry() throws {
        let d = try Differential()
        try d.check("SET", "a", "v", "PX", "50")
        try d.check("HSET", "b", "f", "v")
        try d.check("PEXPIRE", "b", "50")
        try d.check("SADD", "c", "m")
        try d.check("PEXPIRE", "c", "50")
        try d.check("SET", "d", "v", "PX", "50")
        usleep(300_000)
        try d.check("GET", "a")
        try d.check("HGETALL", "b")
        try d.check("SMEMBERS", "c")
        try d.check("EXISTS", "a", "b", "c", "d")
        try d.check("TTL", "d")
        try d.check("DBSIZE")
        try d.check("SET", "d", "v", "XX")
        try d.check("SET", "d", "v", "NX")
        try d.check("EXPIRE", "c", "100")
        try d.check("PERSIST", "c")
        // Writing to an expired key starts a fresh one, without the old TTL.
        try d.check("HSET", "b", "g", "w")
        try d.check("HGETALL", "b")
        try d.check("TTL", "b")
        try d.check("SADD", "c", "n")
        try d.check("SMEMBERS", "c")
        try d.check("TTL", "c")
    }
}
