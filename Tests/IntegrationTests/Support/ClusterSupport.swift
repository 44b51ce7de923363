// Real Redis Cluster nodes for the cluster differential tests, and the normalization that lets
// two clusters' topology replies be compared: node ids, addresses and ports differ by nature,
// the shape must not.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// A scratch directory removed when the value goes away (cluster config files).
final class ScratchDirectory {
    let path: String

    init(_ prefix: String) throws {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw TestFailure("mkdtemp: errno \(errno)") }
        path = String(cString: p)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

extension RedisServerProcess {
    /// A redis-server in cluster mode that has taken all 16384 slots: a one-node cluster, the
    /// reference for Sesame's `cluster-enabled yes`.
    static func startClusterNode(in dir: ScratchDirectory) throws -> RedisServerProcess {
        // The bus port must be given: the default (port + 10000) overflows for ephemeral ports.
        let node = try start(extraArguments: ["--cluster-enabled", "yes", "--cluster-port", "\(ExternalTools.freePort())",
                                              "--cluster-config-file", "\(dir.path)/nodes-\(UInt32.random(in: 0...UInt32.max)).conf",
                                              "--dir", dir.path])
        let c = try RESPClient(port: node.port)
        defer { c.close() }
        _ = try c.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            let info = String(decoding: try c.call("CLUSTER", "INFO"), as: UTF8.self)
            if info.contains("cluster_state:ok") { return node }
            usleep(50_000)
        }
        node.stop()
        throw TestFailure("redis-server cluster node on \(node.port) did not reach cluster_state:ok")
    }
}

/// What differs between two one-node clusters, replaced by placeholders.
struct NodeIdentity {
    let id: String
    let ip: String
    let port: Int

    /// Asks the node itself (CLUSTER MYID and the address in CLUSTER SLOTS).
    static func of(_ c: RESPClient) throws -> NodeIdentity {
        let id = try RESPValue.parse(c.call("CLUSTER", "MYID")).string ?? ""
        guard case .array(let ranges) = try RESPValue.parse(c.call("CLUSTER", "SLOTS")),
              case .array(let range) = ranges.first, range.count >= 3,
              case .array(let node) = range[2], node.count >= 2,
              case .integer(let port) = node[1] else {
            throw TestFailure("unexpected CLUSTER SLOTS reply")
        }
        return NodeIdentity(id: id, ip: node[0].string ?? "", port: port)
    }

    func normalize(_ v: RESPValue) -> RESPValue {
        switch v {
        case .bulk(let b): return .bulk(Array(normalize(String(decoding: b, as: UTF8.self)).utf8))
        case .integer(let n) where n == port: return .integer(-1)
        case .array(let a): return .array(a.map(normalize))
        case .set(let a): return .set(a.map(normalize))
        case .map(let m): return .map(m.map { (normalize($0.0), normalize($0.1)) })
        case .other(let type, let raw) where type == UInt8(ascii: "="):
            // Verbatim text: drop the length header and the "txt:" prefix, compare the text.
            let text = String(decoding: raw, as: UTF8.self)
            guard let colon = text.firstIndex(of: ":") else { return v }
            let body = text[text.index(after: colon)...].dropLast(2)
            return .other(type: type, raw: Array(normalize(String(body)).utf8))
        default: return v
        }
    }

    func normalize(_ s: String) -> String {
        var t = s.replacingOccurrences(of: id, with: "<id>")
        if let r = t.range(of: ":\(port)@") {
            // The bus port (cluster-port) differs between any two nodes too.
            let digits = t[r.upperBound...].prefix { $0.isNumber }
            t.replaceSubrange(r.lowerBound..<digits.endIndex, with: ":<port>@<cport>")
        }
        if !ip.isEmpty { t = t.replacingOccurrences(of: "\(ip):<port>", with: ":<port>") }
        return t == ip ? "<ip>" : t
    }
}
