// Every connected client, for CLIENT LIST / CLIENT KILL and INFO. A Client belongs to its loop
// and is never read from another thread; what other threads may see is its ClientRecord: fixed
// facts, the time and name of its last command (atomics the owning loop stores after each batch
// of commands), and a snapshot of the rest, which the loop republishes (under a mutex) only
// after a batch that changed it. CLIENT KILL asks the owning loop, through its mailbox,
// to close the connection.

import Synchronization

public struct ClientSnapshot: Sendable {
    var name: [UInt8]? = nil
    var libName: [UInt8]? = nil
    var libVersion: [UInt8]? = nil
    var db = 0
    var resp = 2
    var subscriptions = 0
    var patterns = 0
    var multi = -1
    /// The last command's name when it was a subcommand (`client|list`): see
    /// ClientRecord.lastCommandSpec.
    var lastCommand = "NULL"
    /// CLIENT TRACKING's flag letters ("t", "tR", "tB") and redirect (-1 when off).
    var trackingFlags = ""
    var redirect = -1
}

public final class ClientRecord: Sendable {
    public let id: Int
    public let fd: Int32
    public let tag: UInt32
    public let loop: Int
    public let address: String
    public let createdAt: Int64
    let snapshot: Locked<ClientSnapshot>
    /// When the client last ran a command (Unix ms).
    let lastCommandAt: Atomic<Int64>
    /// The last command: the address of its CommandSpec (unretained: specs live as long as the
    /// server), or 0 when it was a subcommand, whose name is `snapshot.lastCommand`.
    let lastCommandSpec = Atomic<UInt>(0)

    init(id: Int, fd: Int32, tag: UInt32, loop: Int, address: String, createdAt: Int64) {
        self.id = id
        self.fd = fd
        self.tag = tag
        self.loop = loop
        self.address = address
        self.createdAt = createdAt
        self.snapshot = Locked(ClientSnapshot())
        self.lastCommandAt = Atomic(createdAt)
    }

    /// The `CLIENT LIST` / `CLIENT INFO` line (without the trailing newline).
    func line(now: Int64) -> String {
        let s = snapshot.withLock { $0 }
        let spec = lastCommandSpec.load(ordering: .relaxed)
        let command = spec == 0 ? s.lastCommand
            : Unmanaged<CommandSpec>.fromOpaque(UnsafeRawPointer(bitPattern: spec)!).takeUnretainedValue().name
        let lastAt = lastCommandAt.load(ordering: .relaxed)
        func text(_ b: [UInt8]?) -> String { b.map { String(decoding: $0, as: UTF8.self) } ?? "" }
        var flags = (s.subscriptions + s.patterns > 0 ? "P" : (s.multi >= 0 ? "x" : "")) + s.trackingFlags
        if flags.isEmpty { flags = "N" }
        return "id=\(id) addr=\(address) laddr= fd=\(fd) name=\(text(s.name)) age=\((now - createdAt) / 1000) idle=\((now - lastAt) / 1000) flags=\(flags) db=\(s.db) sub=\(s.subscriptions) psub=\(s.patterns) ssub=0 multi=\(s.multi) qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=\(command) user=default redir=\(s.redirect) resp=\(s.resp) lib-name=\(text(s.libName)) lib-ver=\(text(s.libVersion))"
    }

    var isPubSub: Bool { snapshot.withLock { $0.subscriptions + $0.patterns > 0 } }
}

public final class ClientRegistry: Sendable {
    private let records = Locked<[Int: ClientRecord]>([:])

    func add(_ r: ClientRecord) { records.withLock { $0[r.id] = r } }
    func remove(_ id: Int) { _ = records.withLock { $0.removeValue(forKey: id) } }
    func record(id: Int) -> ClientRecord? { records.withLock { $0[id] } }
    func all() -> [ClientRecord] { records.withLock { Array($0.values) }.sorted { $0.id < $1.id } }
}

extension Client {
    /// Publishes what CLIENT LIST shows about this client (called by its loop after each batch
    /// of commands). The common batch changes only the last command and its time: two relaxed
    /// stores. The snapshot (strings copied, a mutex) is rebuilt only when a field it holds may
    /// have changed: the client's setters bump `recordVersion`; a tracking client, whose flags
    /// other clients can change, and a subcommand's name always rebuild it.
    func refreshRecord(lastCommand: String? = nil) {
        guard let ref = recordRef else { return }
        ref._withUnsafeGuaranteedRef { record in
            record.lastCommandAt.store(lastCommandAt, ordering: .relaxed)
            let subcommand = lastCommand != nil || hasSubcommandName
            if !subcommand, let spec = lastCommandRef {
                record.lastCommandSpec.store(UInt(bitPattern: spec.toOpaque()), ordering: .relaxed)
            }
            guard subcommand || recordNeedsPublishing else { return }
            let (trackingFlags, redirect) = trackingListFields
            let snap = ClientSnapshot(name: name, libName: libName, libVersion: libVersion, db: db,
                                      resp: resp3 ? 3 : 2, subscriptions: channels.count, patterns: patterns.count,
                                      multi: multi.map { $0.queued.count } ?? -1,
                                      lastCommand: lastCommand ?? lastCommandName,
                                      trackingFlags: trackingFlags, redirect: redirect)
            record.snapshot.withLock { $0 = snap }
            if subcommand { record.lastCommandSpec.store(0, ordering: .relaxed) }
            recordPublished()
        }
    }
}
