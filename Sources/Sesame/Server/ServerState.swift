// What every event loop shares: the configuration, the keyspace, the command table and the
// counters INFO reports. Counters are atomics updated with relaxed ordering; the hot ones
// (commands processed, bytes in/out) live per loop in LoopStats so loops never share a
// written cache line on the request path.

#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import CSystem

public final class LoopStats: Sendable {
    public let commands = Atomic<Int>(0)
    public let netInputBytes = Atomic<Int>(0)
    public let netOutputBytes = Atomic<Int>(0)
    public let keyspaceHits = Atomic<Int>(0)
    public let keyspaceMisses = Atomic<Int>(0)
    public let connections = Atomic<Int>(0)
    /// Event-loop iterations with work (a wake-up that handled events or ran expiry), their
    /// total and longest duration in microseconds: INFO stats eventloop_* (the longest is
    /// Sesame's addition, so a stall such as a mass expiry shows up as a number).
    public let eventloopCycles = Atomic<Int>(0)
    public let eventloopDurationSum = Atomic<Int>(0)
    public let eventloopDurationMax = Atomic<Int>(0)
    /// The longest active-expiry cycle of one loop turn, in microseconds (the expiry part of
    /// `eventloopDurationMax`: tells a mass expiry's stalls from the turn's I/O).
    public let expiryDurationMax = Atomic<Int>(0)
    public init() {}
}

public final class ServerState: Sendable {
    public let configuration: Configuration
    public let keyspace: Keyspace
    public let commands: CommandTable
    public let startedAt: Int64
    public let runID: String
    public let nextClientID = Atomic<Int>(1)
    public let connectedClients = Atomic<Int>(0)
    public let totalConnections = Atomic<Int>(0)
    public let rejectedConnections = Atomic<Int>(0)
    /// Failed AUTH / HELLO AUTH attempts (INFO stats acl_access_denied_auth).
    public let authFailures = Atomic<Int>(0)
    /// maxmemory: the limit, the policy and the evicted-keys counter.
    public let eviction: Eviction
    /// The port actually bound (differs from configuration.port when that was 0).
    public let boundPort = Atomic<Int>(0)
    public let loopStats: [LoopStats]
    public let executablePath: String
    /// Fault injection for the fixture: `faultsArmed` keeps the check off the request path
    /// (one relaxed load) until a test asks for failures.
    let faultsArmed = Atomic<Bool>(false)
    /// Pub/Sub subscriptions and the event loops' mailboxes.
    public let pubsub: PubSubHub
    public let clients = ClientRegistry()
    public let monitors = MonitorHub()
    public let runtimeConfig = RuntimeConfig()
    /// cluster-enabled / cluster-check (Server/ClusterMode.swift).
    public let cluster: ClusterState
    public let sessionDefaults: SessionDefaults
    let notifier: KeyspaceNotifier
    /// `notifier`, unretained, for the per-write "are notifications on?" check.
    let notifierRef: Unmanaged<KeyspaceNotifier>
    /// CLIENT TRACKING (Tracking.swift).
    public let tracking: Tracking
    /// The append-only file (docs/PERSISTENCE.md); idle unless appendonly is on.
    public let aof: AppendOnlyFile
    public let shutdown = ShutdownControl()
    let notifyFlagsText = Locked<String>("")
    private let injectedFailures = Locked<(count: Int, message: String)>((0, ""))

    /// `memoryUsage` replaces the key space's accounted bytes as maxmemory's measurement, and
    /// `accountingSlack` 0 makes the accounting exact (both for tests).
    public init(configuration: Configuration, clock: any SesameClock,
                memoryUsage: (@Sendable () -> Int)? = nil, accountingSlack: Int = 4096) {
        self.configuration = configuration
        self.sessionDefaults = SessionDefaults(configuration)
        self.keyspace = Keyspace(databases: configuration.databases, shardCount: configuration.shards,
                                 clock: clock, tickMilliseconds: configuration.expiryTickMilliseconds,
                                 accountingSlack: accountingSlack)
        self.eviction = Eviction(keyspace: keyspace, maxMemory: configuration.maxMemory,
                                 policy: configuration.maxMemoryPolicy, samples: configuration.maxMemorySamples,
                                 memoryUsage: memoryUsage)
        self.commands = CommandTable(allCommands(), renames: configuration.renamedCommands)
        self.cluster = ClusterState(enabled: configuration.clusterEnabled, check: configuration.clusterCheck,
                                    announceIP: configuration.clusterAnnounceIP)
        self.pubsub = PubSubHub(loops: max(1, configuration.threads))
        self.notifier = KeyspaceNotifier(hub: pubsub)
        self.notifierRef = .passUnretained(notifier)
        self.tracking = Tracking(mailboxes: pubsub.mailboxes, clients: clients)
        self.aof = AppendOnlyFile(configuration: configuration, log: Logger(level: configuration.logLevel))
        let events = PersistenceEvents(aof: aof, next: notifier)
        for shard in keyspace.shards {
            shard.events = events
            shard.tracker = tracking
        }
        keyspace.tracker = tracking
        self.startedAt = clock.nowMilliseconds()
        self.runID = randomHex(20)
        self.loopStats = (0..<max(1, configuration.threads)).map { _ in LoopStats() }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        self.executablePath = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
        _ = setNotifyKeyspaceEvents(configuration.notifyKeyspaceEvents)
    }

    func injectFailures(_ count: Int, message: String) {
        injectedFailures.withLock { $0 = (max(0, count), message) }
        faultsArmed.store(count > 0, ordering: .releasing)
    }

    /// The error to reply instead of running the next command, if one was injected.
    func takeInjectedFailure() -> String? {
        injectedFailures.withLock { state -> String? in
            guard state.count > 0 else { return nil }
            state.count -= 1
            if state.count == 0 { faultsArmed.store(false, ordering: .releasing) }
            return state.message
        }
    }

    /// Sums a per-loop counter: `sum { $0.commands }`.
    public func sum(_ counter: (LoopStats) -> Int) -> Int {
        loopStats.reduce(0) { $0 + counter($1) }
    }
}

/// Random bytes from the OS CSPRNG (getrandom(2)); never a userspace PRNG for anything a
/// client could use to guess (run IDs, later session IDs).
public func secureRandomBytes(_ count: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    var filled = 0
    while filled < count {
        let n = bytes.withUnsafeMutableBytes { getrandom($0.baseAddress! + filled, count - filled, 0) }
        if n < 0 {
            if errno == EINTR { continue }
            fatalError("getrandom failed: errno \(errno)")
        }
        filled += n
    }
    return bytes
}

func randomHex(_ bytes: Int) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in secureRandomBytes(bytes) {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}
