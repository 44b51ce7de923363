// Listening sockets. One socket per bind address, shared by every event loop: each loop adds
// it to its own epoll set with EPOLLEXCLUSIVE, so the kernel wakes one loop per incoming
// connection and whichever loop wakes accepts it. (SO_REUSEPORT would let a second server on
// the same port start silently; a plain shared socket makes "port taken" an error.)

#if canImport(Glibc)
import Glibc
#endif
import CSystem

public struct ListenSocket {
    public let fd: Int32
    public let address: String
}

enum Listener {
    /// Binds every address in `addresses` on `port` (0 = pick one; every address then gets
    /// the port the first one got). An address prefixed with "-" is optional.
    static func bind(addresses: [String], port: Int, backlog: Int32 = 511) throws -> (sockets: [ListenSocket], port: Int) {
        var sockets: [ListenSocket] = []
        var chosenPort = port
        do {
            for spec in addresses {
                let optional = spec.hasPrefix("-")
                let address = optional ? String(spec.dropFirst()) : spec
                do {
                    let fd = try bindOne(address: address, port: chosenPort, backlog: backlog)
                    if chosenPort == 0 { chosenPort = localPort(fd) }
                    sockets.append(ListenSocket(fd: fd, address: address))
                } catch let e as SystemError where optional && (e.errno == EADDRNOTAVAIL || e.errno == EAFNOSUPPORT) {
                    continue
                }
            }
        } catch {
            for s in sockets { Sys.close(s.fd) }
            throw error
        }
        if sockets.isEmpty { throw SystemError(call: "bind (no usable address)", errno: EADDRNOTAVAIL) }
        return (sockets, chosenPort)
    }

    private static func bindOne(address: String, port: Int, backlog: Int32) throws -> Int32 {
        var v4 = in_addr()
        var v6 = in6_addr()
        let isV4 = inet_pton(AF_INET, address, &v4) == 1
        let isV6 = !isV4 && inet_pton(AF_INET6, address, &v6) == 1
        guard isV4 || isV6 else {
            throw SystemError(call: "bind: invalid address '\(address)'", errno: EINVAL)
        }
        let fd = socket(isV4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SystemError(call: "socket", errno: errno) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var rc: Int32
        if isV4 {
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = in_port_t(UInt16(port).bigEndian)
            sa.sin_addr = v4
            rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } else {
            _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = in_port_t(UInt16(port).bigEndian)
            sa.sin6_addr = v6
            rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        if rc != 0 {
            let e = errno
            Sys.close(fd)
            throw SystemError(call: "bind \(address):\(port)", errno: e)
        }
        if listen(fd, backlog) != 0 {
            let e = errno
            Sys.close(fd)
            throw SystemError(call: "listen", errno: e)
        }
        return fd
    }

    static func localPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        let family = Int32(storage.ss_family)
        return withUnsafePointer(to: &storage) { p -> Int in
            if family == AF_INET {
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
            return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
        }
    }
}
