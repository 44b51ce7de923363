// The server: binds the listening sockets, starts one event loop thread per configured
// thread, and stops them. Usable in-process (tests, the embedded fixture) as well as from
// `sesame-server`: `start()` returns once the port is bound, `port` tells which one.

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

public final class SesameServer: @unchecked Sendable {
    public let configuration: Configuration
    public let state: ServerState
    public let log: Logger
    private let lock = ShardLock()
    private var loops: [EventLoop] = []
    private var listeners: [ListenSocket] = []
    private var started = false
    private var http: HTTPServer? = nil

    public init(configuration: Configuration = Configuration(), clock: any SesameClock = SystemClock()) {
        self.configuration = configuration
        self.state = ServerState(configuration: configuration, clock: clock)
        self.log = Logger(level: configuration.logLevel)
    }

    deinit { stop() }

    /// The bound TCP port (the chosen one when configured with port 0); 0 before start.
    public var port: Int { state.boundPort.load(ordering: .acquiring) }
    public var keyspace: Keyspace { state.keyspace }
    /// The HTTP API's bound port; nil when it is off.
    public var httpPort: Int? { lock.withLock { http?.port } }
    public var boundAddresses: [String] { lock.withLock { listeners.map(\.address) } }

    public func start() throws {
        try lock.withLock {
            guard !started else { return }
            // Each client is a descriptor; Redis reserves 32 more for itself.
            let wanted = configuration.maxClients + 32
            let limit = Sys.raiseFileLimit(to: wanted)
            if limit < wanted {
                log.warning("Open files limit is \(limit): fewer than maxclients \(configuration.maxClients) + 32; clients beyond it will be refused by accept(2)")
            } else {
                log.verbose("Open files limit: \(limit)")
            }
            if configuration.appendOnly && !state.aof.enabled.load(ordering: .acquiring) {
                try state.aof.startUp(server: state)
            }
            let (sockets, port) = try Listener.bind(addresses: configuration.bindAddresses, port: configuration.port)
            listeners = sockets
            state.boundPort.store(port, ordering: .releasing)
            let count = max(1, configuration.threads)
            do {
                for i in 0..<count {
                    let loop = try EventLoop(index: i, loopCount: count, server: state,
                                             listenFDs: sockets.map(\.fd), log: log)
                    loops.append(loop)
                }
                for loop in loops { try loop.start() }
                if configuration.http.port != nil {
                    let h = try HTTPServer(state: state, settings: configuration.http, log: log)
                    try h.start()
                    http = h
                    log.notice("HTTP API listening on port \(h.port)")
                }
            } catch {
                http?.stop()
                http = nil
                for loop in loops { loop.requestStop(); loop.join() }
                loops = []
                for s in sockets { Sys.close(s.fd) }
                listeners = []
                throw error
            }
            started = true
        }
    }

    /// Stops accepting, closes every connection and joins the loop threads. Idempotent.
    public func stop() {
        lock.withLock {
            guard started else { return }
            http?.stop()
            http = nil
            for loop in loops { loop.requestStop() }
            for loop in loops { loop.join() }
            loops = []
            for s in listeners { Sys.close(s.fd) }
            listeners = []
            // Everything acknowledged reaches the disk before stop returns (SIGTERM, SHUTDOWN).
            state.aof.close()
            started = false
        }
    }

    /// Closes every client connection without stopping the server (a simulated restart).
    public func dropConnections() {
        lock.withLock { for loop in loops { loop.requestDropConnections() } }
    }
}
