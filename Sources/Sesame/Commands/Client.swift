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
    /// For CLIENT INFO / LIST: the socket and the peer as "ip:port".
    public var fd: Int32 = -1
    public var peerAddress: String = ""

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
