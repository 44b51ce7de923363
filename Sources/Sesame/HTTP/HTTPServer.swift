// The optional HTTP listener (`--http-port`, off by default, loopback by default): one thread
// with its own epoll set, separate from the RESP event loops so a slow HTTP client or a
// Prometheus scrape never delays a RESP command. Requests run through HTTPAPI, whose session
// endpoints call the same Dispatcher the RESP loops use. Keep-alive and pipelining are
// supported; every connection has a bounded input (the parser's limits) and output, and idle
// connections are closed.

#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Synchronization

/// `http-*` settings (Configuration.http).
public struct HTTPSettings: Sendable {
    /// nil: no HTTP listener (the default). 0 picks a free port.
    public var port: Int? = nil
    public var bindAddresses: [String] = ["127.0.0.1"]
    /// Shared secret: when set, every endpoint but /healthz needs `Authorization: Bearer <it>`.
    public var authToken: String? = nil
    public var limits = HTTPLimits()
    public var maxConnections = 256
    public var idleTimeoutSeconds = 60
    public init() {}

    mutating func set(_ key: String, _ values: [String]) throws {
        func one() throws -> String {
            guard values.count == 1 else { throw Configuration.Error(description: "'\(key)' takes one value") }
            return values[0]
        }
        func int(_ range: ClosedRange<Int>) throws -> Int {
            let v = try one()
            guard let n = Int(v), range.contains(n) else {
                throw Configuration.Error(description: "'\(key)' must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(v)'")
            }
            return n
        }
        switch key {
        case "http-port": port = try int(0...65535)
        case "http-bind":
            guard !values.isEmpty else { throw Configuration.Error(description: "'http-bind' needs at least one address") }
            bindAddresses = values
        case "http-auth-token":
            let v = try one()
            authToken = v.isEmpty ? nil : v
        case "http-max-header-bytes": limits.maxHeaderBytes = try int(1024...1 << 20)
        case "http-max-body-bytes": limits.maxBodyBytes = try int(0...16 << 20)
        case "http-max-connections": maxConnections = try int(1...100_000)
        case "http-timeout": idleTimeoutSeconds = try int(1...86400)
        default:
            throw Configuration.Error(description: "Unknown option or number of arguments for CONFIG SET - '\(key)'")
        }
    }
}

final class HTTPConnection {
    let fd: Int32
    let peer: String
    var input: [UInt8] = []
    var output: [UInt8] = []
    var parser: HTTPParser
    var lastActive: Int64
    var closeAfterWrite = false

    init(fd: Int32, peer: String, limits: HTTPLimits, now: Int64) {
        self.fd = fd
        self.peer = peer
        self.parser = HTTPParser(limits: limits)
        self.lastActive = now
    }
}

public final class HTTPServer: @unchecked Sendable {
    let settings: HTTPSettings
    let api: HTTPAPI
    private let listeners: [ListenSocket]
    public let port: Int
    private let epfd: Int32
    private let wakeFD: Int32
    private let running = Atomic<Bool>(true)
    private var thread: pthread_t? = nil
    private var connections: [Int32: HTTPConnection] = [:]
    private let log: Logger

    private static let wakeTag: UInt64 = UInt64(UInt32.max) << 32
    private static let listenTagBase: UInt64 = (UInt64(UInt32.max) - 1) << 32
    /// Stop reading a connection's pipelined requests while this much output waits.
    private static let outputHighWater = 1 << 20

    init(state: ServerState, settings: HTTPSettings, log: Logger) throws {
        self.settings = settings
        self.log = log
        self.api = HTTPAPI(state: state, authToken: settings.authToken)
        let (sockets, port) = try Listener.bind(addresses: settings.bindAddresses, port: settings.port ?? 0)
        listeners = sockets
        self.port = port
        do {
            epfd = try Sys.epollCreate()
            wakeFD = try Sys.eventFD()
            try Sys.epollControl(epfd, EPOLL_CTL_ADD, wakeFD, events: EPOLLIN.rawValue, data: HTTPServer.wakeTag)
            for (i, s) in sockets.enumerated() {
                try Sys.epollControl(epfd, EPOLL_CTL_ADD, s.fd, events: EPOLLIN.rawValue, data: HTTPServer.listenTagBase | UInt64(i))
            }
        } catch {
            for s in sockets { Sys.close(s.fd) }
            throw error
        }
    }

    deinit {
        Sys.close(epfd)
        Sys.close(wakeFD)
    }

    func start() throws {
        thread = try Sys.startThread { self.run() }
    }

    func stop() {
        running.store(false, ordering: .releasing)
        Sys.signalEventFD(wakeFD)
        if let t = thread { pthread_join(t, nil); thread = nil }
        for (_, c) in connections { Sys.close(c.fd) }
        connections = [:]
        for s in listeners { Sys.close(s.fd) }
    }

    private func now() -> Int64 { api.state.keyspace.clock.nowMilliseconds() }

    private func run() {
        let maxEvents: Int32 = 64
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Int(maxEvents))
        defer { events.deallocate() }
        var lastIdleCheck = monotonicSeconds()
        while running.load(ordering: .acquiring) {
            let n: Int
            do { n = try Sys.epollWait(epfd, events, maxEvents, timeoutMs: 1000) } catch {
                log.warning("http: \(error)")
                continue
            }
            for i in 0..<n {
                let data = events[i].data.u64
                if data == HTTPServer.wakeTag { Sys.drainEventFD(wakeFD); continue }
                if data >= HTTPServer.listenTagBase {
                    accept(listeners[Int(data & 0xFFFF_FFFF)].fd)
                    continue
                }
                guard let conn = connections[Int32(truncatingIfNeeded: data)] else { continue }
                handle(conn, events: events[i].events)
            }
            let t = monotonicSeconds()
            if t != lastIdleCheck {
                lastIdleCheck = t
                closeIdle()
            }
        }
    }

    private func monotonicSeconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec
    }

    private func accept(_ listenFD: Int32) {
        for _ in 0..<64 {
            guard let (fd, peer) = (try? Sys.accept(listenFD)) ?? nil else { return }
            if connections.count >= settings.maxConnections {
                let busy = HTTPResponse.json(503, .object([("error", .string("too many connections"))]), keepAlive: false)
                let bytes = busy.serialized()
                _ = bytes.withUnsafeBytes { try? Sys.send(fd, $0.baseAddress!, $0.count) }
                Sys.close(fd)
                continue
            }
            Sys.setNoDelay(fd)
            do {
                try Sys.epollControl(epfd, EPOLL_CTL_ADD, fd, events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue, data: UInt64(UInt32(bitPattern: fd)))
            } catch {
                Sys.close(fd)
                continue
            }
            connections[fd] = HTTPConnection(fd: fd, peer: peer, limits: settings.limits, now: now())
            api.connections.wrappingAdd(1, ordering: .relaxed)
        }
    }

    private func close(_ conn: HTTPConnection) {
        guard connections.removeValue(forKey: conn.fd) != nil else { return }
        _ = try? Sys.epollControl(epfd, EPOLL_CTL_DEL, conn.fd, events: 0, data: 0)
        Sys.close(conn.fd)
        api.connections.subtract(1, ordering: .relaxed)
    }

    private func closeIdle() {
        let limit = Int64(settings.idleTimeoutSeconds) * 1000
        let t = now()
        for conn in connections.values where t - conn.lastActive > limit { close(conn) }
    }

    private func handle(_ conn: HTTPConnection, events: UInt32) {
        if events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 { close(conn); return }
        if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 && !conn.closeAfterWrite {
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            readLoop: while true {
                let r = chunk.withUnsafeMutableBytes { p in Result { try Sys.read(conn.fd, p.baseAddress!, p.count) } }
                switch r {
                case .success(.bytes(let k)):
                    conn.input.append(contentsOf: chunk[0..<k])
                    if k < chunk.count { break readLoop }
                case .success(.wouldBlock):
                    break readLoop
                case .success(.closed), .failure:
                    // The peer half-closed: answer what is complete, then close.
                    conn.closeAfterWrite = true
                    break readLoop
                }
            }
            conn.lastActive = now()
            process(conn)
        }
        flush(conn)
    }

    /// Answers every complete request in the input, in order.
    private func process(_ conn: HTTPConnection) {
        while conn.output.count < HTTPServer.outputHighWater {
            switch conn.parser.next(conn.input) {
            case .needMore:
                return
            case .error(let e):
                let response = HTTPResponse.json(e.status, .object([("error", .string(e.message))]), keepAlive: false)
                conn.output += response.serialized()
                conn.closeAfterWrite = true
                conn.input = []
                api.record(status: e.status, seconds: 0)
                return
            case .request(let request, let consumed):
                conn.input.removeFirst(consumed)
                var response = api.handle(request, peer: conn.peer)
                if !request.keepAlive { response.keepAlive = false }
                // HEAD: the headers GET would send, Content-Length included, and no body.
                conn.output += response.serialized(body: request.method != "HEAD")
                if !response.keepAlive {
                    conn.closeAfterWrite = true
                    conn.input = []
                    return
                }
            }
        }
    }

    private func flush(_ conn: HTTPConnection) {
        while !conn.output.isEmpty {
            let r = conn.output.withUnsafeBytes { p in Result { try Sys.send(conn.fd, p.baseAddress!, p.count) } }
            switch r {
            case .success(.bytes(let k)):
                conn.output.removeFirst(k)
            case .success(.wouldBlock):
                // Closing after this write: stop listening for input, or unread input (level
                // triggered) would wake the loop until the output drains.
                let interest = conn.closeAfterWrite ? EPOLLOUT.rawValue : EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue
                _ = try? Sys.epollControl(epfd, EPOLL_CTL_MOD, conn.fd, events: interest,
                                          data: UInt64(UInt32(bitPattern: conn.fd)))
                return
            case .success(.closed), .failure:
                close(conn)
                return
            }
        }
        if conn.closeAfterWrite { close(conn); return }
        _ = try? Sys.epollControl(epfd, EPOLL_CTL_MOD, conn.fd, events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue,
                                  data: UInt64(UInt32(bitPattern: conn.fd)))
        // Pipelined requests held back by the output high-water mark.
        if !conn.input.isEmpty {
            process(conn)
            if !conn.output.isEmpty { flush(conn) }
        }
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    public var keepAlive = true

    static func json(_ status: Int, _ value: JSONValue, keepAlive: Bool = true, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers,
                     body: Array(value.encoded.utf8), keepAlive: keepAlive)
    }

    static func error(_ status: Int, _ message: String, headers: [(String, String)] = []) -> HTTPResponse {
        json(status, .object([("error", .string(message))]), headers: headers)
    }

    public func serialized(body includeBody: Bool = true) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(HTTPResponse.reason(status))\r\n"
        for (n, v) in headers { head += "\(n): \(v)\r\n" }
        head += "Content-Length: \(body.count)\r\n"
        head += "Cache-Control: no-store\r\n"
        if !keepAlive { head += "Connection: close\r\n" }
        head += "\r\n"
        return includeBody ? Array(head.utf8) + body : Array(head.utf8)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status"
        }
    }
}
