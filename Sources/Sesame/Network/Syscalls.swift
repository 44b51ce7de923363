// Every system call the server makes, wrapped once with one errno policy (SwiftNIO's habit):
// EINTR is retried here, EAGAIN becomes `.wouldBlock`, other failures carry the call's name
// and errno. Callers never look at errno themselves.

#if canImport(Glibc)
import Glibc
#endif
import CSystem

public struct SystemError: Error, CustomStringConvertible {
    public let call: String
    public let errno: Int32
    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

public enum IOResult {
    case bytes(Int)
    case wouldBlock
    case closed
}

enum Sys {
    @inline(__always)
    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) throws -> IOResult {
        while true {
            let n = Glibc.read(fd, buffer, count)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .closed }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case ECONNRESET, EPIPE, ETIMEDOUT: return .closed
            default: throw SystemError(call: "read", errno: errno)
            }
        }
    }

    /// send(2) with MSG_NOSIGNAL: a peer that went away must not raise SIGPIPE in a process
    /// that embeds Sesame (a test runner, say).
    @inline(__always)
    static func send(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) throws -> IOResult {
        while true {
            let n = Glibc.send(fd, buffer, count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .bytes(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case ECONNRESET, EPIPE, ETIMEDOUT: return .closed
            default: throw SystemError(call: "send", errno: errno)
            }
        }
    }

    static func close(_ fd: Int32) {
        // close(2) must not be retried on EINTR on Linux: the descriptor is already released.
        _ = Glibc.close(fd)
    }

    /// Accepts one connection as a non-blocking socket; nil when none is pending.
    static func accept(_ fd: Int32) throws -> (Int32, String)? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            let c = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept4(fd, $0, &len, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
                }
            }
            if c >= 0 { return (c, describe(&storage)) }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK: return nil
            default: throw SystemError(call: "accept4", errno: errno)
            }
        }
    }

    static func describe(_ storage: inout sockaddr_storage) -> String {
        var host = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        var port: UInt16 = 0
        let family = Int32(storage.ss_family)
        withUnsafePointer(to: &storage) { p in
            if family == AF_INET {
                p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                    var addr = a.pointee.sin_addr
                    inet_ntop(AF_INET, &addr, &host, socklen_t(host.count))
                    port = UInt16(bigEndian: a.pointee.sin_port)
                }
            } else if family == AF_INET6 {
                p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                    var addr = a.pointee.sin6_addr
                    inet_ntop(AF_INET6, &addr, &host, socklen_t(host.count))
                    port = UInt16(bigEndian: a.pointee.sin6_port)
                }
            }
        }
        let h = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return family == AF_INET6 ? "[\(h)]:\(port)" : "\(h):\(port)"
    }

    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// SO_KEEPALIVE with the first probe after `seconds` idle and probes every seconds/3, as
    /// Redis's anetKeepAlive does.
    static func setKeepAlive(_ fd: Int32, seconds: Int) {
        guard seconds > 0 else { return }
        var one: Int32 = 1
        var idle = Int32(clamping: seconds)
        var interval = Int32(clamping: max(seconds / 3, 1))
        var count: Int32 = 3
        let size = socklen_t(MemoryLayout<Int32>.size)
        _ = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, size)
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, size)
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &interval, size)
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, &count, size)
    }

    /// Raises the open-file limit towards `wanted`; returns the limit in force afterwards.
    static func raiseFileLimit(to wanted: Int) -> Int {
        var rl = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return -1 }
        if rl.rlim_cur >= rlim_t(wanted) { return Int(rl.rlim_cur) }
        var target = rl
        target.rlim_cur = min(rlim_t(wanted), rl.rlim_max)
        if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &target) == 0 { return Int(target.rlim_cur) }
        return Int(rl.rlim_cur)
    }

    static func epollCreate() throws -> Int32 {
        let fd = epoll_create1(Int32(EPOLL_CLOEXEC))
        if fd < 0 { throw SystemError(call: "epoll_create1", errno: errno) }
        return fd
    }

    static func epollControl(_ epfd: Int32, _ op: Int32, _ fd: Int32, events: UInt32, data: UInt64) throws {
        var ev = epoll_event()
        ev.events = events
        ev.data.u64 = data
        if epoll_ctl(epfd, op, fd, &ev) != 0 {
            throw SystemError(call: "epoll_ctl", errno: errno)
        }
    }

    static func epollWait(_ epfd: Int32, _ events: UnsafeMutablePointer<epoll_event>, _ max: Int32, timeoutMs: Int32) throws -> Int {
        while true {
            let n = epoll_wait(epfd, events, max, timeoutMs)
            if n >= 0 { return Int(n) }
            if errno == EINTR { return 0 }
            throw SystemError(call: "epoll_wait", errno: errno)
        }
    }

    static func eventFD() throws -> Int32 {
        let fd = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        if fd < 0 { throw SystemError(call: "eventfd", errno: errno) }
        return fd
    }

    static func signalEventFD(_ fd: Int32) {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(fd, $0.baseAddress, 8) }
    }

    static func drainEventFD(_ fd: Int32) {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { Glibc.read(fd, $0.baseAddress, 8) }
    }
}

/// What a thread started by `Sys.startThread` runs, carried through pthread_create's argument.
private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

extension Sys {
    /// Runs `body` on a new pthread (the standard library has no thread API, and Foundation's
    /// Thread is not for the server's core). Returns the thread for pthread_join, or nil after
    /// detaching it when `detached`.
    @discardableResult
    static func startThread(detached: Bool = false, _ body: @escaping () -> Void) throws -> pthread_t? {
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<ThreadBody>.fromOpaque(box).release()
            throw SystemError(call: "pthread_create", errno: rc)
        }
        if detached {
            pthread_detach(t)
            return nil
        }
        return t
    }
}
