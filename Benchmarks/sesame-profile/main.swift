// In-process driver for profiling the request path without sockets: RESP bytes -> RESPParser
// -> Dispatcher -> keyspace -> reply buffer, exactly what an event loop runs per wake-up
// (EventLoop.runCommands), so `valgrind --tool=callgrind` gives stable instruction counts per
// command on a noisy machine. Not a benchmark of the server: no kernel, no event loop.
//
//   swift build -c release --product sesame-profile
//   valgrind --tool=callgrind --toggle-collect=sesameProfileDrive \
//       .build/release/sesame-profile hset 200000 16      # Ir / 200000 = instructions per HSET
//   .build/release/sesame-profile all 1000000 16       # wall-clock ns per command, all kinds
//
// Kinds: set get hset hgetall sadd expire session (HGETALL + EXPIRE + HSET lastActivity), all;
// hget / sismember read a 1,000-entry (table-form) hash / set.
//
//   .build/release/sesame-profile expiry 1000000        # mass expiry, active-expiry calls alone
// `expiry` loads N keys whose deadlines fall within one second, 3 s ahead (a manual clock),
// then moves the clock 1 ms per event-loop turn and runs the loop's expiry cycle as EventLoop
// does (0.5 ms limit, again at once while work is pending), printing the longest cycle, how
// many took over 1 ms, and how long after the last deadline the last key went.

import Glibc
import Sesame

let arguments = CommandLine.arguments
let kind = arguments.count > 1 ? arguments[1] : "all"
let total = arguments.count > 2 ? Int(arguments[2]) ?? 200_000 : 200_000
let depth = arguments.count > 3 ? Int(arguments[3]) ?? 16 : 16
let keySpace = 10_000

func encode(_ args: [String]) -> [UInt8] {
    var out = Array("*\(args.count)\r\n".utf8)
    for a in args {
        out += Array("$\(a.utf8.count)\r\n".utf8)
        out += Array(a.utf8)
        out += [13, 10]
    }
    return out
}

/// The commands of one kind for key number `i`.
func commands(_ kind: String, _ i: Int) -> [[String]] {
    let user = i % 1000
    let key = "sess:{\(user)}:\(i)"
    switch kind {
    case "set": return [["SET", "key:\(i)", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]]
    case "get": return [["GET", "key:\(i)"]]
    case "hset": return [["HSET", key, "lastActivity", "1700000000\(i % 10)"]]
    case "hgetall": return [["HGETALL", key]]
    case "sadd": return [["SADD", "user_sessions:{\(user)}", "s\(i % 8)"]]
    case "expire": return [["EXPIRE", key, "1800"]]
    case "hget": return [["HGET", "big:hash", "field:\(i % 1000)"]]
    case "sismember": return [["SISMEMBER", "big:set", "member:\(i % 1000)"]]
    case "session": return [["HGETALL", key], ["EXPIRE", key, "1800"], ["HSET", key, "lastActivity", "1700000001"]]
    default: fatalError("unknown kind \(kind)")
    }
}

@MainActor func seed(_ client: Client) {
    for i in 0..<keySpace {
        let user = i % 1000
        let fields = ["HSET", "sess:{\(user)}:\(i)", "sessionId", "s\(i)", "userId", "\(user)",
                      "createdAt", "1700000000", "lastActivity", "1700000000", "absoluteExpiry", "1700086400",
                      "ipAddress", "203.0.113.7", "userAgent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"]
        feed(client, encode(fields))
        feed(client, encode(["SET", "key:\(i)", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]))
        feed(client, encode(["SADD", "user_sessions:{\(user)}", "s\(i % 8)"]))
    }
    // A table-form hash and set (past PackedLimits.maxEntries) for the hget / sismember kinds.
    for i in 0..<1000 {
        feed(client, encode(["HSET", "big:hash", "field:\(i)", "value:\(i)"]))
        feed(client, encode(["SADD", "big:set", "member:\(i)"]))
    }
}

let input = ByteBuffer(capacity: 64 * 1024)
/// Behind a pointer, as Connection keeps it: a global `var` is copied (its arrays retained and
/// released) around every non-mutating call, which the server does not pay.
let parser: UnsafeMutablePointer<RESPParser> = {
    let p = UnsafeMutablePointer<RESPParser>.allocate(capacity: 1)
    p.initialize(to: RESPParser())
    return p
}()

/// EventLoop.runCommands minus the socket: every complete command in the buffer, replies
/// dropped after each batch (a client that reads everything).
@inline(never)
@MainActor func feed(_ client: Client, _ bytes: [UInt8]) {
    bytes.withUnsafeBytes { raw in
        parser.pointee.bufferShifted(by: input.reserve(raw.count))
        input.append(raw)
    }
    while true {
        switch parser.pointee.next(input) {
        case .command:
            parser.pointee.withArgumentsInPlace(input) { Dispatcher.execute(client, $0) }
            parser.pointee.commandDone(input)
        case .empty: continue
        case .needMore: client.output.clear(); return
        case .protocolError(let m): fatalError(m)
        }
    }
}

func makeBatches(_ kind: String) -> [[UInt8]] {
    // Pre-encoded batches of `depth` commands, cycling over the key space.
    var batches: [[UInt8]] = []
    var i = 0
    while batches.count < 512 {
        var batch: [UInt8] = []
        var n = 0
        while n < depth {
            for c in commands(kind, i % keySpace) { batch += encode(c); n += 1 }
            i += 7919
        }
        batches.append(batch)
    }
    return batches
}

/// The measured part (callgrind: --toggle-collect='*sesameProfileDrive*').
@MainActor @inline(never) @_silgen_name("sesameProfileDrive")
func drive(_ batches: [[UInt8]], rounds: Int, _ client: Client) {
    for r in 0..<rounds { feed(client, batches[r & 511]) }
}

@MainActor func run(_ kind: String, _ client: Client) -> (commands: Int, ns: Double) {
    let batches = makeBatches(kind)
    let rounds = max(1, total / depth)
    var t0 = timespec(); clock_gettime(CLOCK_MONOTONIC, &t0)
    drive(batches, rounds: rounds, client)
    var t1 = timespec(); clock_gettime(CLOCK_MONOTONIC, &t1)
    let ns = Double(t1.tv_sec - t0.tv_sec) * 1e9 + Double(t1.tv_nsec - t0.tv_nsec)
    return (rounds * depth, ns)
}

/// The mass-expiry profile (see the top of the file).
@MainActor func runExpiry(keys: Int) {
    var config = Configuration()
    config.threads = 1
    let clock = ManualClock()
    let state = ServerState(configuration: config, clock: clock)
    let client = Client(id: 1, server: state, output: ByteBuffer(capacity: 64 * 1024))
    let t0 = clock.nowMilliseconds()
    let last = t0 + 3_999
    var batch: [UInt8] = []
    for i in 0..<keys {
        batch += encode(["SET", "expiring:\(i)", "v", "PXAT", "\(t0 + 3_000 + Int64(i % 1_000))"])
        if i % 256 == 255 || i == keys - 1 { feed(client, batch); batch.removeAll(keepingCapacity: true) }
        if i % 1_000 == 999 {
            // Loading takes time on a real server: ~1 ms of clock per 1,000 keys, cycles included.
            clock.advance(milliseconds: 1)
            var cursor = 0
            while state.keyspace.expireCycle(first: 0, stride: 1, budget: config.expiryBudgetPerTurn,
                                             cursor: &cursor, timeLimitNanoseconds: 500_000) {}
        }
    }
    var cursor = 0
    var longest: UInt64 = 0, over1ms = 0, calls = 0
    var goneAt: Int64 = 0
    var tc = timespec()
    while clock.nowMilliseconds() < last + 1_000 {
        clock.advance(milliseconds: 1)
        var pending = true
        while pending {
            clock_gettime(CLOCK_MONOTONIC, &tc)
            let a = UInt64(tc.tv_sec) * 1_000_000_000 + UInt64(tc.tv_nsec)
            pending = state.keyspace.expireCycle(first: 0, stride: 1, budget: config.expiryBudgetPerTurn,
                                                 cursor: &cursor, timeLimitNanoseconds: 500_000)
            clock_gettime(CLOCK_MONOTONIC, &tc)
            let d = UInt64(tc.tv_sec) * 1_000_000_000 + UInt64(tc.tv_nsec) - a
            calls += 1
            longest = max(longest, d)
            if d > 1_000_000 { over1ms += 1 }
        }
        if goneAt == 0 && state.keyspace.keyCount(db: 0) == 0 { goneAt = clock.nowMilliseconds() }
    }
    print("expiry\tkeys=\(keys)\tcycles=\(calls)\tlongest_us=\(longest / 1000)\tover_1ms=\(over1ms)\tall_gone_after_ms=\(goneAt == 0 ? -1 : goneAt - last)")
}

if kind == "expiry" {
    runExpiry(keys: total)
    exit(0)
}

var config = Configuration()
config.threads = 1
let state = ServerState(configuration: config, clock: SystemClock())
let client = Client(id: 1, server: state, output: ByteBuffer(capacity: 64 * 1024))
seed(client)
let kinds = kind == "all" ? ["set", "get", "hset", "hgetall", "sadd", "expire", "session"] : [kind]
for k in kinds {
    let (n, ns) = run(k, client)
    print("\(k)\tcommands=\(n)\tns/command=\(Int((ns / Double(n)).rounded()))")
}
