// Per-connection state a command can see and change. A Client belongs to one event loop and is
// only touched from that loop's thread (commands run to completion there), so it needs no lock.
// What other threads may read about it (CLIENT LIST, INFO clients) is kept elsewhere.

public final class Client {
    public let id: Int
    public let server: ServerState
    /// The event loop that owns this client (index into ServerState.loopStats).
    public let loopIndex: Int
    public let output: ByteBuffer
    public let createdAt: Int64
    public enum ReplyMode { case on, off, skipNext, skipThis }

    /// The mutable state, behind a pointer. Commands read and write it several times each, and
    /// every access to a stored `var` of a class costs a run-time exclusivity check
    /// (swift_beginAccess; measured ~30% of server CPU at pipeline 16 across the request path).
    /// A Client is only touched by its loop's thread, so the checks buy nothing here.
    struct State {
        var resp3 = false
        var db = 0
        var name: [UInt8]? = nil
        var libName: [UInt8]? = nil
        var libVersion: [UInt8]? = nil
        var authenticated: Bool
        var closeAfterReply = false
        var lastCommandAt: Int64
        var multi: MultiState? = nil
        var watched: [WatchedKey] = []
        var channels: Set<Key> = []
        var patterns: Set<Key> = []
        var connectionTag: UInt32 = 0
        var fd: Int32 = -1
        var peerAddress = ""
        var record: ClientRecord? = nil
        /// The last command run (CLIENT LIST cmd=), unretained (the command table outlives
        /// every client), and the name a subcommand set instead (`config|get`).
        var lastCommand: Unmanaged<CommandSpec>? = nil
        var lastSubcommandName: String? = nil
        /// Bumped by every setter of a field the ClientRecord's snapshot shows; the snapshot is
        /// republished when it differs from `publishedVersion` (see refreshRecord).
        var recordVersion: UInt32 = 1
        var publishedVersion: UInt32 = 0
        var recordRef: Unmanaged<ClientRecord>? = nil
        /// Keyspace hits and misses of an event-loop client not yet added to its loop's
        /// counters (see `flushStats`).
        var pendingHits = 0
        var pendingMisses = 0
        var replyMode: ReplyMode = .on
        /// Storage reused for the key of single-key commands (see `key(from:)`).
        var keyScratch: [UInt8] = []
        /// Storage reused for a field or member looked up inside a value (see `lookupScratch`).
        var fieldScratch: [UInt8] = []
        var tracking: TrackingClient? = nil
        var aofPending = false
        var aofCapture: [(db: Int, bytes: [UInt8])]? = nil
    }
    private let state: UnsafeMutablePointer<State>

    /// `server.keyspace` and `output`, unretained, for the request path: borrowed through
    /// `_withUnsafeGuaranteedRef`, where reading the strong `let`s cost a retain/release pair
    /// each (an atomic pair per use; `server` and `output` keep both alive).
    @usableFromInline let keyspaceRef: Unmanaged<Keyspace>
    @usableFromInline let outputRef: Unmanaged<ByteBuffer>
    /// Whether hits and misses wait in the client until `flushStats` (an event loop's client,
    /// flushed once per batch of commands) instead of one atomic add each.
    let batchesStats: Bool

    public init(id: Int, server: ServerState, output: ByteBuffer, loopIndex: Int = 0, batchesStats: Bool = false) {
        self.id = id
        self.loopIndex = loopIndex
        self.server = server
        self.keyspaceRef = .passUnretained(server.keyspace)
        self.outputRef = .passUnretained(output)
        self.batchesStats = batchesStats
        self.output = output
        self.createdAt = server.keyspace.clock.nowMilliseconds()
        state = .allocate(capacity: 1)
        state.initialize(to: State(authenticated: server.configuration.requirePass == nil, lastCommandAt: createdAt))
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Replies go to this client's output buffer in its protocol version.
    @inline(__always) public var reply: ReplyWriter { ReplyWriter(outputRef, resp3: state.pointee.resp3) }
    @inline(__always) public var resp3: Bool { get { state.pointee.resp3 } set { state.pointee.resp3 = newValue; recordChanged() } }
    @inline(__always) public var db: Int { get { state.pointee.db } set { state.pointee.db = newValue; recordChanged() } }
    public var name: [UInt8]? { get { state.pointee.name } set { state.pointee.name = newValue; recordChanged() } }
    public var libName: [UInt8]? { get { state.pointee.libName } set { state.pointee.libName = newValue; recordChanged() } }
    public var libVersion: [UInt8]? { get { state.pointee.libVersion } set { state.pointee.libVersion = newValue; recordChanged() } }
    /// A field CLIENT LIST shows changed: republish the record's snapshot after this batch.
    @inline(__always) func recordChanged() { state.pointee.recordVersion &+= 1 }
    var recordNeedsPublishing: Bool {
        state.pointee.recordVersion != state.pointee.publishedVersion || state.pointee.tracking != nil
    }
    func recordPublished() { state.pointee.publishedVersion = state.pointee.recordVersion }
    var hasSubcommandName: Bool { state.pointee.lastSubcommandName != nil }
    var lastCommandRef: Unmanaged<CommandSpec>? { state.pointee.lastCommand }
    var recordRef: Unmanaged<ClientRecord>? { state.pointee.recordRef }
    @inline(__always) public var authenticated: Bool { get { state.pointee.authenticated } set { state.pointee.authenticated = newValue } }
    /// Set by QUIT and protocol errors: flush what is queued, then close.
    @inline(__always) public var closeAfterReply: Bool { get { state.pointee.closeAfterReply } set { state.pointee.closeAfterReply = newValue } }
    @inline(__always) public var lastCommandAt: Int64 { get { state.pointee.lastCommandAt } set { state.pointee.lastCommandAt = newValue } }
    /// Commands queued by MULTI; nil outside a transaction.
    @inline(__always) public var multi: MultiState? { get { state.pointee.multi } set { state.pointee.multi = newValue; recordChanged() } }
    @inline(__always) var inMulti: Bool { state.pointee.multi != nil }
    /// Queues a command in the open transaction (in place, without copying the queue).
    func queueInMulti(_ command: OwnedArguments) { state.pointee.multi?.queued.append(command); recordChanged() }
    func failMulti() { state.pointee.multi?.failed = true }
    /// Keys under WATCH, with the version each had when watched.
    var watched: [WatchedKey] { get { state.pointee.watched } set { state.pointee.watched = newValue } }
    func addWatched(_ w: WatchedKey) { state.pointee.watched.append(w) }
    /// Pub/Sub channels and patterns this connection is subscribed to.
    var channels: Set<Key> { get { state.pointee.channels } set { state.pointee.channels = newValue; recordChanged() } }
    var patterns: Set<Key> { get { state.pointee.patterns } set { state.pointee.patterns = newValue; recordChanged() } }
    @inline(__always) var isSubscribed: Bool { !state.pointee.channels.isEmpty || !state.pointee.patterns.isEmpty }
    /// Adds or removes a subscription in place; returns whether it changed.
    func insertSubscription(_ k: Key, pattern: Bool) -> Bool {
        recordChanged()
        return pattern ? state.pointee.patterns.insert(k).inserted : state.pointee.channels.insert(k).inserted
    }
    func removeSubscription(_ k: Key, pattern: Bool) -> Bool {
        recordChanged()
        return pattern ? state.pointee.patterns.remove(k) != nil : state.pointee.channels.remove(k) != nil
    }
    /// The epoll tag of this client's connection, so messages from other loops find it.
    public var connectionTag: UInt32 { get { state.pointee.connectionTag } set { state.pointee.connectionTag = newValue } }
    /// For CLIENT INFO / LIST: the socket and the peer as "ip:port".
    public var fd: Int32 { get { state.pointee.fd } set { state.pointee.fd = newValue } }
    public var peerAddress: String { get { state.pointee.peerAddress } set { state.pointee.peerAddress = newValue } }
    /// What other threads see of this client (nil for the fixture's internal clients).
    public var record: ClientRecord? {
        get { state.pointee.record }
        set {
            state.pointee.record = newValue
            state.pointee.recordRef = newValue.map { .passUnretained($0) }
            recordChanged()
        }
    }
    /// Name of the last command run, for CLIENT LIST's cmd= field.
    /// What CLIENT LIST reports as cmd=: the last command's name, `parent|sub` for a
    /// subcommand, NULL before the first.
    public var lastCommandName: String {
        get { state.pointee.lastSubcommandName ?? state.pointee.lastCommand?.takeUnretainedValue().name ?? "NULL" }
        set { state.pointee.lastSubcommandName = newValue }
    }
    /// The dispatcher's note of the command it runs: a store of an unretained reference (the
    /// name string was a retain/release pair per command).
    @inline(__always) func noteCommand(_ spec: CommandSpec) {
        state.pointee.lastCommand = .passUnretained(spec)
        if state.pointee.lastSubcommandName != nil { state.pointee.lastSubcommandName = nil }
    }
    /// CLIENT REPLY: on, off, or skip the next command's reply.
    @inline(__always) public var replyMode: ReplyMode { get { state.pointee.replyMode } set { state.pointee.replyMode = newValue } }

    /// A Key for argument bytes in the client's reused key storage (see Key(reusing:)), for
    /// the commands that still need an owned Key.
    @inline(__always)
    func key(from raw: UnsafeRawBufferPointer) -> Key { Key(reusing: &state.pointee.keyScratch, raw) }
    /// Storage reused for a lookup inside a value (a field of a table-form hash, a member of a
    /// table-form set): Dictionary and Set find only an owned Key. Not `keyScratch`, which
    /// the Key of the command's own key (`withKey`) still holds during the lookup. The client
    /// belongs to one loop, so the storage is never used by two threads.
    @inline(__always)
    var lookupScratch: UnsafeMutablePointer<[UInt8]> {
        (UnsafeMutableRawPointer(state) + MemoryLayout<State>.offset(of: \State.fieldScratch)!)
            .assumingMemoryBound(to: [UInt8].self)
    }
    @inline(__always) var pendingHits: Int { get { state.pointee.pendingHits } set { state.pointee.pendingHits = newValue } }
    @inline(__always) var pendingMisses: Int { get { state.pointee.pendingMisses } set { state.pointee.pendingMisses = newValue } }

    /// Adds the hits and misses counted since the last flush to the loop's counters: one
    /// atomic add per batch of commands rather than per command (INFO flushes its own client
    /// first, so a pipeline sees its earlier GETs counted).
    func flushStats() {
        // Field by field: `let s = state.pointee` would copy the whole State (its arrays and
        // strings retained and released) once per batch.
        let hits = state.pointee.pendingHits, misses = state.pointee.pendingMisses
        guard hits != 0 || misses != 0 else { return }
        let stats = server.loopStatsFor(self)
        if hits != 0 { stats.keyspaceHits.wrappingAdd(hits, ordering: .relaxed) }
        if misses != 0 { stats.keyspaceMisses.wrappingAdd(misses, ordering: .relaxed) }
        state.pointee.pendingHits = 0
        state.pointee.pendingMisses = 0
    }

    /// CLIENT TRACKING state, created the first time tracking is turned on.
    var tracking: TrackingClient? { get { state.pointee.tracking } set { state.pointee.tracking = newValue; recordChanged() } }
    /// Wrote to the append-only file since its replies were last sent (appendfsync always).
    var aofPending: Bool { get { state.pointee.aofPending } set { state.pointee.aofPending = newValue } }
    /// Inside EXEC with appendonly on: the queue's records, appended as one MULTI/EXEC unit.
    var aofCapture: [(db: Int, bytes: [UInt8])]? { get { state.pointee.aofCapture } set { state.pointee.aofCapture = newValue } }

    @inline(__always) public var keyspace: Keyspace { server.keyspace }
    @inline(__always) public var now: Int64 { keyspaceRef._withUnsafeGuaranteedRef { $0.nowMilliseconds() } }

    /// Runs `body` on the key's shard with its lock held, the keyspace borrowed (no retain).
    @inline(__always)
    func withShard<R>(_ key: UnsafeRawBufferPointer, _ body: (Shard) -> R) -> R {
        keyspaceRef._withUnsafeGuaranteedRef { $0.withShard(key, body) }
    }
}

public struct MultiState {
    public var queued: [OwnedArguments] = []
    /// A command failed to queue (unknown, wrong arity): EXEC will answer EXECABORT.
    public var failed = false
}

struct WatchedKey {
    let db: Int
    let key: Key
    let shard: Int
    let version: UInt64
    /// The key existed and had not expired when watched: if it has logically expired by EXEC,
    /// the transaction fails even though nothing deleted it yet (Redis 7).
    let alive: Bool
}
