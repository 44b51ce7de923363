// Per-connection state a command can see and change. A Client belongs to one event loop and is
// only touched from that loop's thread (commands run to completion there), so it needs no lock.
// What other threads may read about it (CLIENT LIST, INFO clients) is kept elsewhere.

public final class Client {
    public let id: Int
    public let server: ServerState
    /// The event loop that owns this client (index into ServerState.loopStats).
    public let loopIndex: Int
    public let output: ByteBuffer
    public var reply: ReplyWriter
    public var db: Int = 0
    public var name: [UInt8]? = nil
    public var libName: [UInt8]? = nil
    public var libVersion: [UInt8]? = nil
    public var authenticated: Bool
    /// Set by QUIT and protocol errors: flush what is queued, then close.
    public var closeAfterReply = false
    public let createdAt: Int64
    public var lastCommandAt: Int64
    /// Commands queued by MULTI; nil outside a transaction.
    public var multi: MultiState? = nil
    /// Keys under WATCH, with the version each had when watched.
    var watched: [WatchedKey] = []

    /// Pub/Sub channels and patterns this connection is subscribed to.
    var channels: Set<Key> = []
    var patterns: Set<Key> = []
    /// The epoll tag of this client's connection, so messages from other loops find it.
    public var connectionTag: UInt32 = 0
    var isSubscribed: Bool { !channels.isEmpty || !patterns.isEmpty }

    /// For CLIENT INFO / LIST: the socket and the peer as "ip:port".
    public var fd: Int32 = -1
    public var peerAddress: String = ""
    /// What other threads see of this client (nil for the fixture's internal clients).
    public var record: ClientRecord? = nil
    /// Name of the last command run, for CLIENT LIST's cmd= field.
    public var lastCommandName = "NULL"
    /// CLIENT REPLY: on, off, or skip the next command's reply.
    public var replyMode: ReplyMode = .on
    public enum ReplyMode { case on, off, skipNext, skipThis }

    public init(id: Int, server: ServerState, output: ByteBuffer, loopIndex: Int = 0) {
        self.id = id
        self.loopIndex = loopIndex
        self.server = server
        self.output = output
        self.reply = ReplyWriter(out: output)
        self.authenticated = server.configuration.requirePass == nil
        self.createdAt = server.keyspace.clock.nowMilliseconds()
        self.lastCommandAt = createdAt
    }

    public var resp3: Bool {
        get { reply.resp3 }
        set { reply.resp3 = newValue }
    }

    @inline(__always) public var keyspace: Keyspace { server.keyspace }
    @inline(__always) public var now: Int64 { server.keyspace.clock.nowMilliseconds() }
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
