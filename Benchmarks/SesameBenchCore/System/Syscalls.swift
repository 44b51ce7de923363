#if canImport(Glibc)
import Glibc
#endif

// Every syscall the harness makes goes through here, with one errno policy: EINTR is retried,
// EAGAIN becomes `.wouldBlock`, anything else is returned or thrown with the call's name.
// The harness only ever connects to loopback addresses (127.0.0.0/8): it is a load generator,
// and a load generator must not be pointable at other machines by accident.

/// An error the harness reports to the user; `description` is the whole message.
public struct BenchError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Monotonic time in nanoseconds (vDSO, no syscall).
@inline(__always)
public func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Wall-clock time in milliseconds since the Unix epoch.
@inline(__always)
public func wallClockMillis() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Sleeps for `nanos` nanoseconds (resumes after EINTR with the remaining time).
public func sleepNanos(_ nanos: UInt64) {
    guard nanos > 0 else { return }
    var request = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
    var remaining = timespec()
    for _ in 0..<1000 {
        if nanosleep(&request, &remaining) == 0 { return }
        if errno != EINTR { return }
        request = remaining
    }
}

func errnoText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
}

/// Result of a non-blocking read or write.
public enum IOResult: Equatable {
    case done(Int)
    case wouldBlock
    case endOfFile
    case failed(Int32)
}

public enum Sys {
    /// Parses "127.0.0.1" / "localhost" (loopback only) into an IPv4 address in network order.
    public static func loopbackAddress(_ host: String) throws -> in_addr {
        let name = host == "localhost" ? "127.0.0.1" : host
        var address = in_addr()
        guard inet_pton(AF_INET, name, &address) == 1 else {
            throw BenchError("'\(host)' is not an IPv4 address (use 127.0.0.1)")
        }
        let firstOctet = UInt32(bigEndian: address.s_addr) >> 24
        guard firstOctet == 127 else {
            throw BenchError("refusing to connect to \(host): sesame-bench only targets loopback (127.0.0.0/8)")
        }
        return address
    }

    /// Connects to host:port with a timeout and returns a non-blocking socket with TCP_NODELAY.
    public static func connect(host: String, port: Int, timeoutMillis: Int32 = 5000) throws -> Int32 {
        let address = try loopbackAddress(host)
        guard (1...65535).contains(port) else { throw BenchError("invalid port \(port)") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: \(errnoText(errno))") }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = UInt16(port).bigEndian
        sin.sin_addr = address
        let result = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 {
            let code = errno
            guard code == EINPROGRESS || code == EINTR else {
                close(fd)
                throw BenchError("connect to \(host):\(port): \(errnoText(code))")
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&pfd, 1, timeoutMillis)
            if ready <= 0 {
                close(fd)
                throw BenchError("connect to \(host):\(port): timed out after \(timeoutMillis) ms")
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            if soError != 0 {
                close(fd)
                throw BenchError("connect to \(host):\(port): \(errnoText(soError))")
            }
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    @inline(__always)
    public static func read(_ fd: Int32, _ pointer: UnsafeMutableRawPointer, _ count: Int) -> IOResult {
        while true {
            let n = Glibc.read(fd, pointer, count)
            if n > 0 { return .done(n) }
            if n == 0 { return .endOfFile }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
            return .failed(code)
        }
    }

    @inline(__always)
    public static func write(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> IOResult {
        while true {
            let n = Glibc.write(fd, pointer, count)
            if n >= 0 { return .done(n) }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
            return .failed(code)
        }
    }

    /// poll(2) with EINTR reported as "nothing ready".
    @inline(__always)
    public static func poll(_ fds: UnsafeMutablePointer<pollfd>, _ count: Int, _ timeoutMillis: Int32) -> Int32 {
        let n = Glibc.poll(fds, nfds_t(count), timeoutMillis)
        if n < 0 { return errno == EINTR ? 0 : -1 }
        return n
    }

    /// Waits up to `micros` microseconds for any of `fds` (events ignored: readability only)
    /// with select(), which, unlike poll, takes a sub-millisecond timeout. Returns the number
    /// ready, 0 on timeout, or -1 if an fd does not fit an fd_set (the caller then sleeps).
    public static func waitReadable(_ fds: UnsafeMutablePointer<pollfd>, _ count: Int, micros: Int) -> Int32 {
        var set = fd_set()
        var maxFD: Int32 = -1
        let fits: Bool = withUnsafeMutableBytes(of: &set) { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in 0..<count {
                let fd = fds[i].fd
                if fd < 0 { continue }
                guard Int(fd) < words.count * 64 else { return false }
                words[Int(fd) / 64] |= 1 << UInt64(Int(fd) % 64)
                maxFD = max(maxFD, fd)
            }
            return true
        }
        guard fits else { return -1 }
        var timeout = timeval(tv_sec: 0, tv_usec: max(0, micros))
        let n = select(maxFD + 1, &set, nil, nil, &timeout)
        return n < 0 ? 0 : n
    }

    public static func close(_ fd: Int32) {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    /// CPU time (user + system) this process has used, in seconds.
    public static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }

    public static var onlineCPUs: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    public static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// Reads a whole (small) file such as /proc/PID/status; nil if it cannot be opened.
    public static func readFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while result.count < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// Names in a directory (without "." and ".."); empty if it cannot be read.
    public static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        for _ in 0..<100_000 {
            guard let entry = readdir(dir) else { break }
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
