// Differential tests for the key, string, hash, set, scan, object, config and server commands:
// every request goes to redis-server (7.0) and to Sesame, and the replies must be the same
// bytes. Scripts are one command per line (words split on spaces, "double quotes" for words
// with spaces or empty words); `~` before a line compares the reply as a multiset (element
// order is unspecified for that command, e.g. SUNION or KEYS), `?` only checks that both
// reply with the same RESP type (random or time-dependent replies).
//
// Hashes and sets here stay within Redis's listpack limits (128 entries, 64-byte values), where
// Redis keeps insertion order, so HGETALL / HKEYS / HSCAN replies are byte-identical too.

import Foundation
import Testing

@Suite("Differential: commands against redis-server",
       .enabled(if: ExternalTools.redisServerEnabled, "redis-server is not on PATH (set CI=true to make this a failure)"))
struct DifferentialCommandsTests {

    /// Splits a script line into arguments: spaces separate, "..." groups (no escapes).
    static func words(_ line: Substring) -> [String] {
        var out: [String] = []
        var current = ""
        var inQuotes = false, started = false
        for ch in line {
            if ch == "\"" {
                inQuotes.toggle()
                started = true
            } else if ch == " " && !inQuotes {
                if started { out.append(current) }
                current = ""
                started = false
            } else {
                current.append(ch)
                started = true
            }
        }
        if started { out.append(current) }
        return out
    }

    static func run(_ d: Differential, _ script: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for raw in script.split(separator: "\n") {
            var line = raw.drop { $0 == " " }
            if line.isEmpty || line.hasPrefix("#") { continue }
            var mode: Character = "="
            if line.first == "~" || line.first == "?" {
                mode = line.first!
                line = line.dropFirst().drop { $0 == " " }
            }
            let args = words(line)
            switch mode {
            case "~":
                let (a, b) = try d.replies(RESPClient.encode(args))
                let va = try RESPValue.parse(a), vb = try RESPValue.parse(b)
                #expect(deepCanonical(va) == deepCanonical(vb),
                        "\(args.joined(separator: " ")) (unordered):\n  redis:  \(printable(a))\n  sesame: \(printable(b))",
                        sourceLocation: sourceLocation)
            case "?":
                let (a, b) = try d.replies(RESPClient.encode(args))
                #expect(a.first == b.first, "\(args.joined(separator: " ")) (type):\n  redis:  \(printable(a))\n  sesame: \(printable(b))",
                        sourceLocation: sourceLocation)
            default:
                try d.check(args: args, sourceLocation: sourceLocation)
            }
        }
    }

    /// A reply with the order of every collection removed, at every depth (SCAN's key list
    /// inside its two-element reply).
    static func deepCanonical(_ v: RESPValue) -> String {
        switch v {
        case .array(let a): return "*[" + a.map(deepCanonical).sorted().joined(separator: ",") + "]"
        case .set(let a): return "~[" + a.map(deepCanonical).sorted().joined(separator: ",") + "]"
        case .map(let m): return "%[" + m.map { deepCanonical($0.0) + "=>" + deepCanonical($0.1) }.sorted().joined(separator: ",") + "]"
        default: return v.description
        }
    }

    /// HELLO 3 (its id and version differ between the servers): both must switch to RESP3.
    static func hello3(_ d: Differential) throws {
        let (a, b) = try d.replies(RESPClient.encode(["HELLO", "3"]))
        #expect(a.first == UInt8(ascii: "%") && b.first == UInt8(ascii: "%"), "HELLO 3: \(printable(a)) / \(printable(b))")
    }

    @Test("EXPIRETIME, PEXPIRETIME, TOUCH, RENAME, RENAMENX, COPY")
    func keyCommands() throws {
        let d = try Differential()
        let at = Int(Date().timeIntervalSince1970) + 10_000
        try Self.run(d, """
            EXPIRETIME
            EXPIRETIME nope
            PEXPIRETIME nope
            SET k v
            EXPIRETIME k
            PEXPIRETIME k
            EXPIREAT k \(at)
            EXPIRETIME k
            PEXPIRETIME k
            PEXPIREAT k \(at)123
            EXPIRETIME k
            PEXPIRETIME k
            HSET h f v
            PEXPIREAT h 9223372036854775807
            PEXPIRETIME h
            EXPIRETIME h
            TOUCH
            TOUCH k h nope k
            TOUCH nope
            RENAME
            RENAME k
            RENAME nope x
            RENAME k k
            RENAMENX k k
            RENAMENX nope k
            RENAME k k2
            EXISTS k
            PEXPIRETIME k2
            RENAMENX k2 h
            PEXPIRETIME k2
            RENAMENX k2 k3
            PEXPIRETIME k3
            RENAME k3 h
            TYPE h
            PEXPIRETIME h
            SET plain v
            RENAME h plain
            TTL plain
            GET plain
            SADD {t}a m
            RENAME {t}a {t}b
            SMEMBERS {t}b
            COPY
            COPY a
            COPY nope b
            COPY nope nope
            COPY plain plain
            COPY plain plain DB 1
            COPY plain c
            COPY plain c
            COPY plain c REPLACE
            COPY plain c db 1
            COPY plain c db 1
            COPY plain c DB 16
            COPY plain c DB -1
            COPY plain c DB abc
            COPY plain c DB 2147483648
            COPY plain c DB
            COPY plain c FOO
            COPY plain c DB 0 REPLACE
            COPY plain c DB 1 DB 2
            COPY plain c REPLACE REPLACE
            HSET hh a 1 b 2
            EXPIREAT hh \(at)
            COPY hh hh2
            HGETALL hh2
            EXPIRETIME hh2
            HSET hh2 c 3
            HGETALL hh
            SELECT 1
            GET plain
            GET c
            SELECT 2
            DBSIZE
            SELECT 0
            RENAME
            """)
        try d.checkRaw(RESPClient.encode([bytes("SET"), [0, 0xff], bytes("bin")]))
        try d.checkRaw(RESPClient.encode([bytes("RENAME"), [0, 0xff], [0xfe, 0]]))
        try d.checkRaw(RESPClient.encode([bytes("GET"), [0xfe, 0]]))
    }

    @Test("KEYS, SCAN, RANDOMKEY, DBSIZE with patterns and types")
    func keysAndScan() throws {
        let d = try Differential()
        try Self.run(d, """
            KEYS
            KEYS * x
            SCAN
            SCAN x
            SCAN 0 COUNT 0
            SCAN 0 COUNT -1
            SCAN 0 COUNT abc
            SCAN 0 COUNT 1.5
            SCAN 0 MATCH
            SCAN 0 TYPE
            SCAN 0 FOO bar
            SCAN 0 NOVALUES
            SCAN 18446744073709551616
            SCAN " 0"
            SCAN 0x1
            SCAN -
            SCAN 1.0
            SCAN 0
            SCAN ""
            SCAN 0 TYPE nosuch
            RANDOMKEY
            RANDOMKEY x
            KEYS *
            SET user:1 a
            SET user:2 b
            SET user:10 c
            SET session:x d
            HSET user:h f v
            SADD user:s m
            SET "a b" e
            SET "" empty
            SET a*b f
            SET "h[ae]llo" g
            SET hello h
            SET hallo i
            """)
        for pattern in ["*", "user:*", "user:?", "user:1*", "*:*", "h[ae]llo", "h[^e]llo", "h[a-e]llo", "h\\[ae\\]llo",
                        "a\\*b", "a*b", "*b", "", "nomatch*", "[", "user:[0-9]", "USER:*", "*\\", "a b"] {
            try Self.run(d, """
                ~ KEYS "\(pattern)"
                ~ SCAN 0 MATCH "\(pattern)" COUNT 1000
                """)
        }
        try Self.run(d, """
            ~ SCAN 0 COUNT 1000
            ~ SCAN 0 TYPE string COUNT 1000
            ~ SCAN 0 TYPE STRING COUNT 1000
            ~ SCAN 0 TYPE hash COUNT 1000
            ~ SCAN 0 type set count 1000
            ~ SCAN 0 TYPE list COUNT 1000
            ~ SCAN 0 MATCH user:* TYPE hash COUNT 1000
            ~ SCAN 0 COUNT 1000 MATCH x MATCH user:*
            ? RANDOMKEY
            DBSIZE
            SELECT 5
            RANDOMKEY
            KEYS *
            SCAN 0
            SELECT 0
            """)
        // A full iteration with the default COUNT returns every key exactly once on both.
        for i in 0..<300 { try d.check("SET", "many:\(i)", "\(i)") }
        for (who, client) in [("redis", d.r), ("sesame", d.s)] {
            var cursor = "0"
            var seen: [String] = []
            var calls = 0
            repeat {
                let v = try RESPValue.parse(try client.call("SCAN", cursor, "MATCH", "many:*"))
                guard case .array(let pair) = v, pair.count == 2, case .bulk(let c) = pair[0], case .array(let keys) = pair[1] else {
                    Issue.record("\(who): SCAN replied \(v)")
                    return
                }
                cursor = String(decoding: c, as: UTF8.self)
                seen += keys.compactMap(\.string)
                calls += 1
            } while cursor != "0" && calls < 10_000
            #expect(seen.count == 300 && Set(seen).count == 300, "\(who): \(seen.count) keys, \(Set(seen).count) distinct")
        }
    }

    @Test("OBJECT, MEMORY, TIME, LASTSAVE, SLOWLOG, SWAPDB")
    func introspectionAndServer() throws {
        let d = try Differential()
        try Self.run(d, """
            OBJECT
            OBJECT foo
            OBJECT HELP
            OBJECT HELP x
            OBJECT ENCODING
            OBJECT ENCODING a b
            OBJECT ENCODING nope
            OBJECT REFCOUNT nope
            OBJECT IDLETIME nope
            OBJECT FREQ nope
            SET i 12345
            SET big 12345678901234567890
            SET neg -0
            SET lead 01
            SET max 9223372036854775807
            SET min -9223372036854775808
            SET s44 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
            SET s45 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
            SET empty ""
            OBJECT ENCODING i
            OBJECT ENCODING big
            OBJECT ENCODING neg
            OBJECT ENCODING lead
            OBJECT ENCODING max
            OBJECT ENCODING min
            OBJECT ENCODING s44
            OBJECT ENCODING s45
            OBJECT ENCODING empty
            OBJECT REFCOUNT s44
            OBJECT IDLETIME s44
            OBJECT FREQ s44
            HSET h f v
            OBJECT ENCODING h
            OBJECT REFCOUNT h
            MEMORY
            MEMORY foo
            MEMORY USAGE
            MEMORY USAGE nope
            MEMORY USAGE nope SAMPLES 5
            MEMORY USAGE s44 SAMPLES
            MEMORY USAGE s44 FOO 1
            MEMORY USAGE s44 SAMPLES abc
            MEMORY USAGE s44 SAMPLES -1
            ? MEMORY USAGE s44
            ? MEMORY USAGE h SAMPLES 0
            TIME x
            ? TIME
            LASTSAVE x
            ? LASTSAVE
            SLOWLOG
            SLOWLOG foo
            SLOWLOG HELP
            SLOWLOG RESET
            SLOWLOG LEN
            SLOWLOG GET
            SLOWLOG GET 5
            SLOWLOG GET -1
            SLOWLOG GET 0
            SLOWLOG GET -2
            SLOWLOG GET abc
            SLOWLOG GET 1 2
            SLOWLOG LEN x
            SLOWLOG RESET x
            SWAPDB
            SWAPDB 0
            SWAPDB 0 1 2
            SWAPDB 0 16
            SWAPDB 16 0
            SWAPDB a 1
            SWAPDB 1 a
            SWAPDB -1 0
            SWAPDB 2147483648 0
            SWAPDB 0 0
            DBSIZE
            SWAPDB 0 1
            DBSIZE
            GET i
            SELECT 1
            DBSIZE
            GET i
            SWAPDB 1 0
            DBSIZE
            SELECT 0
            DBSIZE
            """)
        // Both replies of TIME are two bulk strings of digits, and agree within a few seconds.
        let rt = try RESPValue.parse(try d.r.call("TIME")), st = try RESPValue.parse(try d.s.call("TIME"))
        guard case .array(let ra) = rt, case .array(let sa) = st, ra.count == 2, sa.count == 2,
              let rs = Int(ra[0].string ?? ""), let ss = Int(sa[0].string ?? ""), Int(sa[1].string ?? "") != nil else {
            Issue.record("TIME: redis \(rt), sesame \(st)")
            return
        }
        #expect(abs(rs - ss) <= 2)
    }

    @Test("GETEX, GETDEL, GETSET, MGET, MSET, MSETNX")
    func stringGetSet() throws {
        let d = try Differential()
        let at = Int(Date().timeIntervalSince1970) + 10_000
        try Self.run(d, """
            GETEX
            GETEX nope
            GETEX nope EX 10
            GETEX nope EX 0
            GETEX nope FOO
            SET k v
            GETEX k
            GETEX k EX
            GETEX k EX 0
            GETEX k EX -1
            GETEX k EX abc
            GETEX k EX 100 PX 100
            GETEX k PX 100 EX 100
            GETEX k EXAT 100 PXAT 100
            GETEX k EX 100 EX 200
            TTL k
            GETEX k PX 3000000
            TTL k
            GETEX k EXAT \(at)
            EXPIRETIME k
            GETEX k PXAT \(at)500
            PEXPIRETIME k
            GETEX k PERSIST
            TTL k
            GETEX k PERSIST PERSIST
            GETEX k PERSIST EX 10
            GETEX k EX 10 PERSIST
            GETEX k FOO
            GETEX k KEEPTTL
            GETEX k NX
            GETEX k EXAT 9223372036854775807
            GETEX k EX 9223372036854775
            GETEX k PX 9223372036854775807
            GETEX k ex 100
            TTL k
            GETEX k PXAT 1
            EXISTS k
            SET k v
            GETEX k EXAT 1
            GET k
            HSET h f v
            GETEX h
            GETEX h EX 10
            GETEX h EX 0
            GETEX h FOO
            GETDEL
            GETDEL a b
            GETDEL nope
            SET k v
            EXPIRE k 100
            GETDEL k
            GETDEL k
            TTL k
            GETDEL h
            GETSET
            GETSET k
            GETSET k v
            GETSET k w
            SET k v EX 100
            GETSET k w
            TTL k
            GETSET h x
            MGET
            MGET a
            MGET k h nope k
            MSET
            MSET a
            MSET a 1 b
            MSET a 1 b 2
            MGET a b
            MSET a 3 a 4
            GET a
            EXPIRE a 100
            MSET a 5
            TTL a
            MSETNX a 1 c 3
            MGET a c
            MSETNX c 3 d 4
            MGET c d
            MSETNX c 3 d 4 e
            MSETNX h 1
            MSETNX x 1 x 2
            GET x
            MSETNX {s}1 a {s}2 b
            MGET {s}1 {s}2
            """)
        // Many keys on many shards at once.
        var mset = ["MSET"], mget = ["MGET"], msetnx = ["MSETNX"]
        for i in 0..<100 { mset += ["m:\(i)", "v\(i)"]; mget.append("m:\(i)") }
        for i in 95..<120 { msetnx += ["m:\(i)", "n\(i)"] }
        try d.check(args: mset)
        try d.check(args: mget + ["nope"])
        try d.check(args: msetnx)
        try d.check(args: ["MGET"] + (90..<120).map { "m:\($0)" })
        try d.check(args: ["MSETNX"] + (200..<240).flatMap { ["m:\($0)", "x"] })
        try d.check("DBSIZE")
        try d.checkRaw(RESPClient.encode([bytes("MSET"), [0], [0xff, 0], bytes("k2"), []]))
        try d.checkRaw(RESPClient.encode([bytes("MGET"), [0], bytes("k2")]))
    }

    @Test("INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT: overflow, parsing, long double formatting")
    func counters() throws {
        let d = try Differential()
        try Self.run(d, """
            INCR
            INCR a b
            INCR n
            INCR n
            DECR n
            INCRBY n 10
            INCRBY n abc
            INCRBY n 1.5
            INCRBY n ""
            INCRBY n " 1"
            INCRBY n 01
            INCRBY n -0
            DECRBY n -5
            DECRBY n -9223372036854775808
            DECRBY n 9223372036854775808
            INCRBY n 9223372036854775808
            DECRBY nope2 -9223372036854775808
            SET m 9223372036854775807
            INCR m
            INCRBY m 0
            INCRBY m -9223372036854775808
            GET m
            SET m -9223372036854775808
            DECR m
            DECRBY m 1
            INCRBY m -1
            INCRBY m 9223372036854775807
            SET s abc
            INCR s
            SET s " 1"
            INCR s
            SET s "1 "
            INCR s
            SET s 01
            INCR s
            SET s ""
            INCR s
            SET s 99999999999999999999
            INCR s
            SET s 1.0
            INCR s
            HSET h f v
            INCR h
            DECR h
            INCRBY h abc
            INCRBY nope3 abc
            EXISTS nope3
            SET k 10
            EXPIRE k 100
            INCR k
            TTL k
            INCRBYFLOAT
            INCRBYFLOAT f
            INCRBYFLOAT h 1
            INCRBYFLOAT h abc
            INCRBYFLOAT s abc
            """)
        for incr in ["10.5", "0.1", "5.0e3", "3.0", "-0", "-0.0", "1e-20", "0.2", "1e20", "1e21", "123456789012345678901234567890",
                     "\" 1\"", "\"1 \"", "0x10", "1e", "\"\"", ".5", "5.", "+5", "1e-320", "3.14159265358979323846", "-1e-7",
                     "100", "-100", "1.5e-5", "-1.5E+5", "inf", "-inf", "infinity", "INF", "nan", "NaN", "1e308", "1e308",
                     "1e400", "1e5000", "1e-5000", "0x1p3", "abc", "1,5", "1e4932", "1e4932", "-1e4932"] {
            try Self.run(d, """
                INCRBYFLOAT f \(incr)
                GET f
                INCRBYFLOAT "g\(incr)" \(incr)
                """)
        }
        try Self.run(d, """
            SET f " 5"
            INCRBYFLOAT f 1
            SET f "5 "
            INCRBYFLOAT f 1
            SET f 1.7976931348623157e308
            INCRBYFLOAT f 1.7976931348623157e308
            SET f 10
            EXPIRE f 100
            INCRBYFLOAT f 0.5
            TTL f
            SET f 1e4900
            INCRBYFLOAT f 1e4900
            """)
        try d.checkRaw(RESPClient.encode([bytes("INCRBYFLOAT"), bytes("f"), [0x31, 0x00]]))
        try d.checkRaw(RESPClient.encode([bytes("INCRBYFLOAT"), bytes("f"), Array(repeating: UInt8(ascii: "1"), count: 6000)]))
        try d.checkRaw(RESPClient.encode([bytes("INCRBY"), bytes("f"), [0x31, 0x00]]))
    }

    @Test("APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE")
    func stringRanges() throws {
        let d = try Differential()
        try Self.run(d, """
            APPEND k
            APPEND k abc
            APPEND k def
            APPEND k ""
            STRLEN k
            STRLEN nope
            STRLEN
            HSET h f v
            APPEND h x
            STRLEN h
            APPEND empty ""
            EXISTS empty
            SET n 10
            EXPIRE n 100
            APPEND n 5
            GET n
            TTL n
            INCR n
            GETRANGE k
            GETRANGE k 0
            GETRANGE nope 0 -1
            GETRANGE nope a 1
            GETRANGE k a 1
            GETRANGE k 1 a
            GETRANGE h 0 1
            GETRANGE h a 1
            SETRANGE k
            SETRANGE k 0
            SETRANGE k 1 XY
            GET k
            SETRANGE k 10 Z
            GET k
            SETRANGE k -1 x
            SETRANGE k a x
            SETRANGE nope 0 ""
            EXISTS nope
            SETRANGE nope 5 ""
            EXISTS nope
            SETRANGE k 100 ""
            STRLEN k
            SETRANGE k 536870912 x
            SETRANGE k 536870912 ""
            SETRANGE k 536870911 ""
            SETRANGE k 9223372036854775807 x
            SETRANGE h 0 x
            SETRANGE h -1 x
            SETRANGE h 0 ""
            SETRANGE nope2 -1 x
            SETRANGE nope2 536870912 x
            SETRANGE nope2 3 abc
            GET nope2
            SET e ""
            GETRANGE e 0 -1
            GETRANGE e -1 0
            GETRANGE e 0 0
            SUBSTR k 0 3
            SUBSTR k
            SETRANGE n 0 9
            GET n
            TTL n
            """)
        try d.check("SET", "r", "abcdef")
        for (a, b) in [("0", "-1"), ("-3", "-1"), ("10", "20"), ("-100", "-50"), ("3", "1"), ("-1", "-3"), ("0", "100"),
                       ("-100", "2"), ("0", "9223372036854775807"), ("-9223372036854775808", "-1"),
                       ("-9223372036854775808", "-9223372036854775808"), ("9223372036854775807", "9223372036854775807"),
                       ("5", "5"), ("6", "6"), ("-6", "-6"), ("-7", "-7"), ("-1", "-100"), ("2", "-100"), ("1", "0")] {
            try d.check("GETRANGE", "r", a, b)
        }
        try d.checkRaw(RESPClient.encode([bytes("SETRANGE"), bytes("bin"), bytes("2"), [0, 0xff, 13, 10]]))
        try d.check("GET", "bin")
        try d.checkRaw(RESPClient.encode([bytes("APPEND"), bytes("bin"), [0]]))
        try d.check("GETRANGE", "bin", "1", "-2")
    }

    @Test("HSETNX, HKEYS, HVALS, HINCRBY, HINCRBYFLOAT, HSTRLEN, HRANDFIELD, HSCAN")
    func hashCommands() throws {
        let d = try Differential()
        try Self.run(d, """
            HSETNX h f v
            HSETNX h f w
            HSETNX h
            HSETNX h f
            HSETNX h2 a b
            HGET h f
            HKEYS h
            HVALS h
            HKEYS nope
            HVALS nope
            HKEYS
            HINCRBY h n 5
            HINCRBY h n -10
            HINCRBY h f 1
            HINCRBY h n abc
            HINCRBY h n 1.5
            HINCRBY nope2 n abc
            EXISTS nope2
            HINCRBY h n 9223372036854775807
            HINCRBY h n 9223372036854775807
            HSET h big 9223372036854775807
            HINCRBY h big 1
            HSET h lead 01
            HINCRBY h lead 1
            HINCRBY h
            HINCRBYFLOAT h fl 1.5
            HINCRBYFLOAT h fl abc
            HINCRBYFLOAT h fl inf
            HINCRBYFLOAT h fl nan
            HINCRBYFLOAT h f 1
            HINCRBYFLOAT h n 0.5
            HINCRBYFLOAT h fl 5.0e3
            HINCRBYFLOAT h fl -5001.5
            HSET h sp " 1"
            HINCRBYFLOAT h sp 1
            HINCRBYFLOAT nope3 f inf
            EXISTS nope3
            HINCRBYFLOAT nope4 f nan
            HINCRBYFLOAT nope5 f 2.5
            HGETALL nope5
            HGETALL h
            HKEYS h
            HVALS h
            HSTRLEN h f
            HSTRLEN h big
            HSTRLEN h nope
            HSTRLEN nope f
            HSTRLEN h
            EXPIRE h 100
            HINCRBY h n 1
            HSETNX h new v
            TTL h
            SET s x
            HSETNX s f v
            HKEYS s
            HVALS s
            HINCRBY s f 1
            HINCRBYFLOAT s f 1
            HSTRLEN s f
            HRANDFIELD s
            HRANDFIELD s 2
            HINCRBY s f abc
            HINCRBYFLOAT s f abc
            HRANDFIELD
            HRANDFIELD nope
            HRANDFIELD nope 5
            HRANDFIELD nope 5 WITHVALUES
            HRANDFIELD nope -5 WITHVALUES
            HRANDFIELD nope 5 FOO
            HRANDFIELD nope abc
            HRANDFIELD h 0
            HRANDFIELD h 0 WITHVALUES
            HRANDFIELD h abc
            HRANDFIELD h 1 FOO
            HRANDFIELD h 1 WITHVALUES x
            HRANDFIELD h -9223372036854775808
            HRANDFIELD h -9223372036854775808 WITHVALUES
            HRANDFIELD h -4611686018427387904 WITHVALUES
            HRANDFIELD h 4611686018427387904 WITHVALUES
            HRANDFIELD h 9223372036854775807
            HRANDFIELD h 9223372036854775807 WITHVALUES
            HRANDFIELD h 100 withvalues
            HSCAN
            HSCAN h
            HSCAN h x
            HSCAN nope 0
            HSCAN nope x
            HSCAN nope 0 FOO
            HSCAN s 0
            HSCAN s x
            HSCAN s 0 FOO
            HSCAN h 0
            HSCAN h 0 FOO
            HSCAN h 0 MATCH f*
            HSCAN h 0 MATCH *l* COUNT 1
            HSCAN h 0 COUNT 0
            HSCAN h 0 COUNT abc
            HSCAN h 0 TYPE string
            HSCAN h 5
            HSCAN h -1
            HSCAN h 0 MATCH
            """)
        // Random picks: shape and membership (the whole hash for a count past its size is exact).
        for args in [["HRANDFIELD", "h"], ["HRANDFIELD", "h", "1"], ["HRANDFIELD", "h", "3"], ["HRANDFIELD", "h", "-20"],
                     ["HRANDFIELD", "h", "3", "WITHVALUES"], ["HRANDFIELD", "h", "-20", "WITHVALUES"], ["HRANDFIELD", "h", "-1"]] {
            let (a, b) = try d.replies(RESPClient.encode(args))
            try expectSameShape(args, a, b, members: ["f", "n", "big", "fl", "lead", "sp", "new"])
        }
        try Self.hello3(d)
        try Self.run(d, """
            HRANDFIELD h 100 WITHVALUES
            HRANDFIELD h 0 WITHVALUES
            HRANDFIELD nope 1 WITHVALUES
            HRANDFIELD nope
            HKEYS h
            HSCAN h 0
            """)
        let (a, b) = try d.replies(RESPClient.encode(["HRANDFIELD", "h", "-4", "WITHVALUES"]))
        #expect(a.prefix(8) == b.prefix(8), "RESP3 HRANDFIELD WITHVALUES shape: \(printable(a)) / \(printable(b))")
    }

    @Test("SMISMEMBER, SPOP, SRANDMEMBER, SMOVE, SINTER/SUNION/SDIFF(+STORE), SINTERCARD, SSCAN")
    func setCommands() throws {
        let d = try Differential()
        try Self.run(d, """
            SADD s a b c
            SMISMEMBER s
            SMISMEMBER s a
            SMISMEMBER s a z b ""
            SMISMEMBER nope a
            SPOP
            SPOP nope
            SPOP nope 3
            SPOP nope -1
            SPOP nope abc
            SPOP s 0
            SPOP s -1
            SPOP s abc
            SPOP s 1 2
            SRANDMEMBER
            SRANDMEMBER nope
            SRANDMEMBER nope 5
            SRANDMEMBER nope -5
            SRANDMEMBER nope abc
            SRANDMEMBER s 0
            SRANDMEMBER s 1 x
            SRANDMEMBER s -9223372036854775808
            SRANDMEMBER s abc
            SMOVE
            SMOVE s d
            SMOVE s d a b
            SMOVE s d a
            SMOVE s d a
            SMOVE s d zz
            SMOVE nope d a
            SMOVE s s b
            SMOVE s s zz
            SET str v
            SMOVE s str b
            SMOVE str s b
            SMOVE nope str b
            SMOVE str nope b
            EXPIRE s 100
            SMOVE s d2 b
            TTL s
            SMOVE s d2 c
            EXISTS s
            TTL s
            SMEMBERS d
            SINTER
            SINTER nope
            SUNION nope
            SDIFF nope
            SADD x 1 2 3 a
            SADD y 2 3 4 b
            SADD {t}x p q r
            SADD {t}y q r s
            ~ SINTER x y
            ~ SUNION x y
            ~ SDIFF x y
            ~ SDIFF y x
            ~ SINTER x y x
            ~ SUNION x x
            ~ SDIFF x x
            SINTER x nope
            ~ SUNION x nope
            ~ SDIFF x nope
            SDIFF nope x
            SINTER nope x str
            SINTER x str
            SUNION x str
            SUNION str nope
            SDIFF x str
            SDIFF nope str
            SDIFF str x
            SINTERSTORE
            SINTERSTORE dst
            SINTERSTORE dst x y
            ~ SMEMBERS dst
            SINTERSTORE dst x nope
            EXISTS dst
            SUNIONSTORE dst x y
            ~ SMEMBERS dst
            SDIFFSTORE dst x y
            ~ SMEMBERS dst
            SDIFFSTORE str x y
            TYPE str
            SET str v
            SINTERSTORE dst x str
            SUNIONSTORE dst str
            SDIFFSTORE dst str
            EXPIRE dst 100
            SUNIONSTORE dst x
            TTL dst
            SUNIONSTORE x x y
            SCARD x
            SINTERSTORE {t}z {t}x {t}y
            ~ SMEMBERS {t}z
            SDIFFSTORE dst nope x
            EXISTS dst
            SINTERCARD
            SINTERCARD 1
            SINTERCARD 0 x
            SINTERCARD abc x
            SINTERCARD 2 x
            SINTERCARD 3 x y
            SINTERCARD 2 x y
            SINTERCARD 2 x y LIMIT 1
            SINTERCARD 2 x y LIMIT 0
            SINTERCARD 2 x y LIMIT -1
            SINTERCARD 2 x y LIMIT abc
            SINTERCARD 2 x y FOO 1
            SINTERCARD 2 x y LIMIT
            SINTERCARD 1 str
            SINTERCARD 2 x nope
            SINTERCARD 2 nope str
            SINTERCARD -1 x
            SINTERCARD 9223372036854775807 x
            SINTERCARD 2147483648 x
            SINTERCARD 1 x LIMIT 1 LIMIT 2
            SINTERCARD 1 x LIMIT 100
            SADD one m
            SPOP one 5
            EXISTS one
            SADD two m
            SPOP two
            EXISTS two
            SADD three m
            SPOP three 1
            EXISTS three
            SSCAN
            SSCAN x
            SSCAN x abc
            SSCAN nope 0
            SSCAN nope 0 FOO
            SSCAN str 0
            SSCAN x 0 NOVALUES
            SSCAN x 0 TYPE set
            SSCAN x 0 COUNT 0
            ~ SSCAN x 0
            ~ SSCAN x 0 MATCH [0-9]
            """)
        // Random members: shape and membership.
        try d.check("SADD", "r", "a", "b", "c", "d")
        for args in [["SRANDMEMBER", "r"], ["SRANDMEMBER", "r", "2"], ["SRANDMEMBER", "r", "1"], ["SRANDMEMBER", "r", "-9"],
                     ["SRANDMEMBER", "r", "10"], ["SPOP", "r"], ["SPOP", "r", "2"]] {
            let (a, b) = try d.replies(RESPClient.encode(args))
            try expectSameShape(args, a, b, members: ["a", "b", "c", "d"])
        }
        try d.check("SCARD", "r")
        try Self.hello3(d)
        try Self.run(d, """
            SPOP nope 2
            SADD q a
            SPOP q 0
            SPOP q 5
            SADD q a b
            SRANDMEMBER q 0
            SINTER nope
            SMISMEMBER q a
            ~ SUNION q q
            """)
    }

    /// Random replies: the same RESP shape (type and length) and only known members.
    private func expectSameShape(_ args: [String], _ a: [UInt8], _ b: [UInt8], members: Set<String>,
                                 sourceLocation: SourceLocation = #_sourceLocation) throws {
        let va = try RESPValue.parse(a), vb = try RESPValue.parse(b)
        func shape(_ v: RESPValue) -> String {
            switch v {
            case .array(let x): return "array(\(x.count))"
            case .set(let x): return "set(\(x.count))"
            case .bulk: return "bulk"
            default: return v.description
            }
        }
        #expect(shape(va) == shape(vb), "\(args): redis \(va), sesame \(vb)", sourceLocation: sourceLocation)
        func strings(_ v: RESPValue) -> [String] {
            switch v {
            case .array(let x), .set(let x): return x.flatMap(strings)
            case .bulk: return [v.string!]
            default: return []
            }
        }
        let names = strings(vb)
        let isPairs = args.contains { $0.uppercased() == "WITHVALUES" }
        let fields = isPairs ? stride(from: 0, to: names.count, by: 2).map { names[$0] } : names
        #expect(fields.allSatisfy(members.contains), "\(args): sesame returned \(names)", sourceLocation: sourceLocation)
        if let count = args.count > 2 ? Int(args[2]) : nil, count > 0 {
            #expect(Set(fields).count == fields.count, "\(args): duplicates in \(fields)", sourceLocation: sourceLocation)
        }
    }

    @Test("CONFIG GET / SET / RESETSTAT / HELP")
    func config() throws {
        let d = try Differential()
        try Self.run(d, """
            CONFIG
            CONFIG GET
            CONFIG SET
            CONFIG SET foo
            CONFIG SET foo bar
            CONFIG SET maxmemory
            CONFIG SET maxmemory 10 foo 1
            CONFIG SET foo 1 maxmemory 10
            CONFIG SET maxmemory abc
            CONFIG SET maxmemory -1
            CONFIG SET maxmemory 1mb
            CONFIG GET maxmemory
            CONFIG SET maxmemory 2GB
            CONFIG GET maxmemory
            CONFIG SET MAXMEMORY 0
            CONFIG GET maxmemory
            CONFIG SET maxmemory 100 maxmemory 200
            CONFIG SET maxmemory-policy allkeys-lru
            CONFIG GET maxmemory-policy
            CONFIG SET maxmemory-policy NOEVICTION
            CONFIG GET maxmemory-policy
            CONFIG SET maxmemory-samples 0
            CONFIG SET maxmemory-samples 2147483648
            CONFIG SET maxmemory-samples abc
            CONFIG SET maxmemory-samples 10
            CONFIG GET maxmemory-samples
            CONFIG SET maxmemory-samples 5
            CONFIG SET notify-keyspace-events KEA
            CONFIG GET notify-keyspace-events
            CONFIG SET notify-keyspace-events xyz
            CONFIG SET notify-keyspace-events Ex
            CONFIG GET notify-keyspace-events
            CONFIG SET notify-keyspace-events gE$lshzxetdm
            CONFIG GET notify-keyspace-events
            CONFIG SET notify-keyspace-events ""
            CONFIG GET notify-keyspace-events
            CONFIG SET save ""
            CONFIG GET save
            CONFIG SET appendonly no
            CONFIG GET appendonly
            CONFIG SET appendonly maybe
            CONFIG SET slowlog-log-slower-than -2
            CONFIG SET slowlog-log-slower-than abc
            CONFIG SET slowlog-log-slower-than 5000
            CONFIG GET slowlog-log-slower-than
            CONFIG SET slowlog-max-len 64
            CONFIG GET slowlog-max-len
            ~ CONFIG GET slowlog*
            CONFIG SET databases 5
            CONFIG GET databases
            CONFIG GET nosuch
            CONFIG GET nosuch*
            CONFIG GET maxmemory maxmemory
            CONFIG GET MAXMEMORY
            ~ CONFIG GET maxmemory-[ps]* notify-keyspace-events
            CONFIG GET requirepass
            CONFIG GET protected-mode
            CONFIG GET daemonize
            CONFIG GET timeout
            CONFIG RESETSTAT
            CONFIG RESETSTAT x
            CONFIG HELP
            CONFIG foo
            """)
    }

    @Test("COMMAND INFO key positions and arity match Redis for every command; COMMAND GETKEYS")
    func commandInfo() throws {
        let d = try Differential()
        let list = try RESPValue.parse(try d.s.call("COMMAND", "LIST"))
        guard case .array(let names) = list else { Issue.record("COMMAND LIST: \(list)"); return }
        #expect(names.count > 80)
        for case .bulk(let raw) in names {
            let name = String(decoding: raw, as: UTF8.self)
            // Sesame's own extensions (SESSION.*, docs/SESSIONS.md) have nothing to compare with.
            if name.hasPrefix("session.") { continue }
            let (a, b) = try d.replies(RESPClient.encode(["COMMAND", "INFO", name]))
            let ra = try RESPValue.parse(a), sa = try RESPValue.parse(b)
            guard case .array(let ro) = ra, case .array(let r) = ro.first, case .array(let so) = sa, case .array(let s) = so.first else {
                Issue.record("COMMAND INFO \(name): redis \(printable(a)), sesame \(printable(b))")
                continue
            }
            // name, arity, first key, last key, step
            let rt = [r[0], r[1], r[3], r[4], r[5]], st = [s[0], s[1], s[3], s[4], s[5]]
            #expect(rt == st, "COMMAND INFO \(name): redis \(rt), sesame \(st)")
        }
        try d.check("COMMAND", "INFO", "nosuchcommand")
        try d.check("COMMAND", "INFO", "nosuch", "")
        try Self.run(d, """
            COMMAND GETKEYS
            COMMAND GETKEYS get
            COMMAND GETKEYS get a
            COMMAND GETKEYS GET a
            COMMAND GETKEYS nosuch a
            COMMAND GETKEYS get a b
            COMMAND GETKEYS ping x
            COMMAND GETKEYS mset a 1 b 2
            COMMAND GETKEYS mset a 1 b
            COMMAND GETKEYS msetnx a 1
            COMMAND GETKEYS mget a b c
            COMMAND GETKEYS sintercard 2 a b LIMIT 1
            COMMAND GETKEYS sintercard 0 a
            COMMAND GETKEYS sintercard 5 a
            COMMAND GETKEYS sintercard abc a
            COMMAND GETKEYS sinterstore d a b
            COMMAND GETKEYS sdiff a b c
            COMMAND GETKEYS rename a b
            COMMAND GETKEYS copy a b DB 1
            COMMAND GETKEYS smove a b m
            COMMAND GETKEYS keys *
            COMMAND GETKEYS scan 0
            COMMAND GETKEYS hscan h 0
            COMMAND GETKEYS del a b c
            COMMAND GETKEYS set a b EX 10
            COMMAND GETKEYS hset h f v
            COMMAND GETKEYS object encoding a
            COMMAND GETKEYS object encoding a b
            COMMAND GETKEYS object help x
            COMMAND GETKEYS memory usage a
            COMMAND GETKEYS memory usage a SAMPLES 5
            COMMAND GETKEYS command getkeys get a
            COMMAND GETKEYS config get x
            COMMAND GETKEYS swapdb 0 1
            """)
    }
}
