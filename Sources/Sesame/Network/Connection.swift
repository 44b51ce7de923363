// One client socket. Owned by exactly one event loop for its whole life: its buffers, parser
// and Client are touched only from that loop's thread.

public final class Connection {
    let fd: Int32
    /// Tags this connection's epoll events, so an event for a closed fd that was reused by a
    /// newer connection in the same batch is recognised as stale and skipped.
    let tag: UInt32
    let client: Client
    let input: ByteBuffer
    /// Behind a pointer rather than a stored `var`: the parser is used several times per
    /// command, and every access to a class's `var` costs a run-time exclusivity check
    /// (measured ~30% of server CPU at pipeline 16 across the request path). Only this
    /// connection's loop touches it.
    let parser: UnsafeMutablePointer<RESPParser>
    /// EPOLLOUT is registered (a write was partial).
    var waitingForWritable = false
    /// EPOLLIN is removed because pending output passed the soft limit.
    var readingPaused = false
    var closed = false
    /// How many bytes the next read asks for: starts small and doubles (to 64 KB) while reads
    /// fill it, so a connection that only sends small commands keeps a small buffer. Buffers
    /// of 16 KB each way from accept made 10,000 idle clients hold ~330 MB.
    var readSize = Connection.initialBufferBytes

    /// First size of the input and output buffers of a connection.
    static let initialBufferBytes = 1024

    init(fd: Int32, tag: UInt32, client: Client, limits: RESPLimits) {
        self.fd = fd
        self.tag = tag
        self.client = client
        self.input = ByteBuffer(capacity: Connection.initialBufferBytes)
        self.parser = .allocate(capacity: 1)
        self.parser.initialize(to: RESPParser(limits: limits))
    }

    deinit {
        parser.deinitialize(count: 1)
        parser.deallocate()
    }

    var output: ByteBuffer { client.output }
}
