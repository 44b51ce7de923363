// CLIENT LIST / KILL / REPLY / NO-EVICT across event loops (Sesame only: Redis's lines carry
// fields whose values differ by implementation, such as fd and memory figures).

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

@Suite("CLIENT administration", .serialized)
struct ClientCommandsTests {
    func waitUntil(_ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<100 {
            if try condition() { return true }
            usleep(10_000)
        }
        return false
    }

    @Test func listShowsEveryClientWithItsName() throws {
        let sesame = try SesameInstance(threads: 2)
        let clients = try (0..<4).map { _ in try sesame.client() }
        for (i, c) in clients.enumerated() { _ = try c.call("CLIENT", "SETNAME", "c\(i)") }
        let text = String(decoding: try clients[0].call("CLIENT", "LIST"), as: UTF8.self)
        for i in 0..<4 { #expect(text.contains("name=c\(i) ")) }
        #expect(text.contains("cmd=client|list"))
        let mine = String(decoding: try clients[1].call("CLIENT", "INFO"), as: UTF8.self)
        #expect(mine.contains("name=c1 "))
        _ = try clients[2].call("SUBSCRIBE", "x")
        #expect(try waitUntil {
            String(decoding: try clients[0].call("CLIENT", "LIST", "TYPE", "pubsub"), as: UTF8.self).contains("name=c2 ")
        })
        #expect(try clients[0].call("CLIENT", "LIST", "TYPE", "bogus") == bytes("-ERR Unknown client type 'bogus'\r\n"))
    }

    /// Another client's line follows each batch: the last command (a plain command or a
    /// `parent|sub` one, in either order), the database, the name.
    @Test func listFollowsLastCommandDatabaseAndName() throws {
        let sesame = try SesameInstance(threads: 2)
        let a = try sesame.client(), b = try sesame.client()
        func lineOfA() throws -> String {
            let id = String(decoding: try a.call("CLIENT", "ID").dropFirst().dropLast(2), as: UTF8.self)
            let text = String(decoding: try b.call("CLIENT", "LIST"), as: UTF8.self)
            return text.split(separator: "\n").first { $0.contains("id=\(id) addr=") }.map(String.init) ?? ""
        }
        _ = try a.call("SELECT", "3")
        _ = try a.call("GET", "k")
        // CLIENT ID (asked by lineOfA) is itself a subcommand: the line shows it.
        var line = try lineOfA()
        #expect(line.contains(" db=3 ") && line.contains(" cmd=client|id "), "\(line)")
        _ = try a.call("CLIENT", "SETNAME", "alpha")
        _ = try a.call("SET", "k", "v")
        let text = String(decoding: try b.call("CLIENT", "LIST"), as: UTF8.self)
        line = text.split(separator: "\n").first { $0.contains(" name=alpha ") }.map(String.init) ?? ""
        #expect(line.contains(" cmd=set ") && line.contains(" db=3 "), "\(line)")
        _ = try a.call("SELECT", "0")
        _ = try a.call("HSET", "h", "f", "v")
        let again = String(decoding: try b.call("CLIENT", "LIST"), as: UTF8.self)
        line = again.split(separator: "\n").first { $0.contains(" name=alpha ") }.map(String.init) ?? ""
        #expect(line.contains(" cmd=hset ") && line.contains(" db=0 "), "\(line)")
    }

    @Test func killClosesAClientOnAnyLoop() throws {
        let sesame = try SesameInstance(threads: 2)
        let victims = try (0..<4).map { _ in try sesame.client() }
        let admin = try sesame.client()
        var ids: [String] = []
        for v in victims {
            let reply = String(decoding: try v.call("CLIENT", "ID"), as: UTF8.self)
            ids.append(reply.dropFirst().trimmingCharacters(in: .whitespacesAndNewlines))
        }
        for (i, id) in ids.enumerated() {
            #expect(try admin.call("CLIENT", "KILL", "ID", id) == bytes(":1\r\n"))
            #expect(try victims[i].waitForClose())
        }
        #expect(try admin.call("CLIENT", "KILL", "ID", "999999") == bytes(":0\r\n"))
        #expect(try admin.call("CLIENT", "KILL", "127.0.0.1:1") == bytes("-ERR No such client\r\n"))
        #expect(try admin.call("PING") == bytes("+PONG\r\n"))
    }

    @Test func replyOffAndSkip() throws {
        let sesame = try SesameInstance()
        let c = try sesame.client()
        try c.send("CLIENT REPLY OFF\r\nSET a 1\r\nPING\r\nCLIENT REPLY ON\r\n")
        #expect(try c.readReply() == bytes("+OK\r\n"))
        try c.send("CLIENT REPLY SKIP\r\nGET a\r\nECHO after\r\n")
        #expect(try c.readReply() == bytes("$5\r\nafter\r\n"))
        #expect(try c.call("CLIENT", "NO-EVICT", "on") == bytes("+OK\r\n"))
        #expect(try c.call("GET", "a") == bytes("$1\r\n1\r\n"))
    }

    @Test func monitorStreamsOtherClientsCommandsInRedisFormat() throws {
        let sesame = try SesameInstance(threads: 2)
        let monitor = try sesame.client()
        #expect(try monitor.call("MONITOR") == bytes("+OK\r\n"))
        let c = try sesame.client()
        _ = try c.call(args: ["SET", "a\"b", "x\ny\u{1}"])
        _ = try c.call("AUTH", "secret")
        let set = String(decoding: try monitor.readReply(), as: UTF8.self)
        #expect(set.hasPrefix("+1") && set.hasSuffix(" \"SET\" \"a\\\"b\" \"x\\ny\\x01\"\r\n"), "\(set)")
        #expect(set.contains(" [0 127.0.0.1:"))
        let auth = String(decoding: try monitor.readReply(), as: UTF8.self)
        #expect(auth.hasSuffix(" \"AUTH\" \"(redacted)\"\r\n"), "\(auth)")
    }
}
