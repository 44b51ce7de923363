// Helpers shared by the unit tests: a deterministic PRNG (tests must not flake), byte literals,
// a driver that feeds the RESP parser the way the event loop does, and a command-layer client
// on a manual clock.

@testable import Sesame

/// SplitMix64: small, fast, and seeded, so every "random" test replays the same inputs.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

/// What the parser produced, in a form tests can compare.
enum Parsed: Equatable, CustomStringConvertible {
    case command([[UInt8]])
    case empty
    case error(String)

    static func cmd(_ args: String...) -> Parsed { .command(args.map { Array($0.utf8) }) }

    var description: String {
        switch self {
        case .command(let a): return "command(\(a.map { $0.text }))"
        case .empty: return "empty"
        case .error(let m): return "error(\(m))"
        }
    }
}

/// The result of feeding a whole input: every outcome, plus whether a partial command was left.
struct ParseRun: Equatable {
    var outcomes: [Parsed] = []
    var leftover = 0
}

/// Feeds `input` to a fresh parser in chunks whose sizes come from `chunkSize`, exactly as the
/// event loop does: reserve room (telling the parser how far unread bytes moved), append, then
/// parse every complete command. The buffer starts tiny so compaction and growth happen often.
func feed(_ input: [UInt8], limits: RESPLimits = RESPLimits(), initialCapacity: Int = 16,
          chunkSize: (Int) -> Int) -> ParseRun {
    var parser = RESPParser(limits: limits)
    let buffer = ByteBuffer(capacity: initialCapacity)
    var run = ParseRun()
    var pos = 0
    input.withUnsafeBytes { raw in
        while pos < raw.count {
            let n = Swift.min(Swift.max(1, chunkSize(raw.count - pos)), raw.count - pos)
            parser.bufferShifted(by: buffer.reserve(n))
            buffer.append(UnsafeRawBufferPointer(rebasing: raw[pos..<(pos + n)]))
            pos += n
            while true {
                switch parser.next(buffer) {
                case .command:
                    run.outcomes.append(.command(parser.withArguments(buffer) { $0.toArrays() }))
                    parser.commandDone(buffer)
                    continue
                case .empty:
                    run.outcomes.append(.empty)
                    continue
                case .needMore:
                    break
                case .protocolError(let m):
                    // The connection closes here; what is left unread does not matter.
                    run.outcomes.append(.error(m))
                    pos = raw.count
                    buffer.clear()
                }
                break
            }
        }
    }
    run.leftover = buffer.readableBytes
    return run
}

func feedAll(_ input: [UInt8], limits: RESPLimits = RESPLimits()) -> ParseRun {
    feed(input, limits: limits, initialCapacity: max(16, input.count)) { $0 }
}

func feedBytewise(_ input: [UInt8], limits: RESPLimits = RESPLimits()) -> ParseRun {
    feed(input, limits: limits) { _ in 1 }
}

func feedRandom(_ input: [UInt8], seed: UInt64, limits: RESPLimits = RESPLimits()) -> ParseRun {
    var rng = SplitMix64(seed: seed)
    return feed(input, limits: limits) { remaining in Int.random(in: 1...max(1, min(remaining, 37)), using: &rng) }
}

/// Encodes a command as a RESP multibulk request.
func multibulk(_ args: [[UInt8]]) -> [UInt8] {
    var out = bytes("*\(args.count)\r\n")
    for a in args {
        out += bytes("$\(a.count)\r\n")
        out += a
        out += bytes("\r\n")
    }
    return out
}

func multibulk(_ args: String...) -> [UInt8] { multibulk(args.map { Array($0.utf8) }) }

// MARK: - Command layer

/// A server state on a manual clock plus one client, for driving commands directly.
struct CommandHarness {
    let clock: ManualClock
    let state: ServerState
    let client: Client

    init(shards: Int = 16, tickMilliseconds: Int64 = 10, clock: ManualClock = ManualClock()) {
        var cfg = Configuration()
        cfg.threads = 1
        cfg.shards = shards
        cfg.expiryTickMilliseconds = tickMilliseconds
        self.clock = clock
        state = ServerState(configuration: cfg, clock: clock)
        client = Client(id: 1, server: state, output: ByteBuffer())
    }

    var keyspace: Keyspace { state.keyspace }

    /// Runs one command and returns its reply bytes as text.
    @discardableResult
    func run(_ args: String...) -> String { run(args) }

    @discardableResult
    func run(_ args: [String]) -> String {
        client.output.clear()
        OwnedArguments(args).withArguments { Dispatcher.execute(client, $0) }
        let reply = client.output.readableArray.text
        client.output.clear()
        return reply
    }

    /// Runs active expiry on every shard until nothing is pending; returns how many calls it took.
    @discardableResult
    func expireUntilIdle(budget: Int = 1_000_000) -> Int {
        var calls = 1
        while keyspace.expireCycle(first: 0, stride: 1, budget: budget) { calls += 1 }
        return calls
    }

    /// Whether `key` is physically present in db 0, without triggering lazy expiry.
    func isStored(_ key: String) -> Bool {
        let k = Key(key)
        let shard = keyspace.shards[HashSlot.of(key) & (keyspace.shards.count - 1)]
        return shard.lock.withLock { shard.tables[0][k] != nil }
    }

    /// Total records held by all timer wheels and due queues.
    var wheelRecords: Int {
        keyspace.shards.reduce(0) { n, s in s.lock.withLock { n + s.wheel.count + s.due.count } }
    }
}

// MARK: - Threads

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

private final class ThreadStart: @unchecked Sendable {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

final class Countdown: Sendable {
    let done = Atomic<Int>(0)
}

/// Runs `body(i)` for i in 0..<count, each on its own OS thread (not the 2-thread cooperative
/// pool), and waits at most `timeout`. Returns false on timeout, so a deadlock fails the test
/// instead of hanging it.
func runThreads(_ count: Int, timeout: Duration = .seconds(30), _ body: @escaping @Sendable (Int) -> Void) -> Bool {
    let countdown = Countdown()
    for i in 0..<count {
        let start = ThreadStart {
            body(i)
            countdown.done.add(1, ordering: .releasing)
        }
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let s = Unmanaged<ThreadStart>.fromOpaque(arg!).takeRetainedValue()
            s.body()
            return nil
        }, Unmanaged.passRetained(start).toOpaque())
        precondition(rc == 0, "pthread_create failed: \(rc)")
        pthread_detach(tid)
    }
    let deadline = ContinuousClock.now + timeout
    while countdown.done.load(ordering: .acquiring) < count {
        if ContinuousClock.now > deadline { return false }
        usleep(1000)
    }
    return true
}
