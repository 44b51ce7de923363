// MONITOR (Redis replicationFeedMonitors): every command any client runs is streamed to the
// monitoring connections as `+<unix-time.micros> [<db> <addr>] "CMD" "arg" ...`. Monitors are
// reached through their loops' mailboxes like Pub/Sub subscribers; when nobody monitors, the
// cost per command is one relaxed atomic load.

import Synchronization

let monitorCommands: [CommandSpec] = [
    CommandSpec("monitor", arity: 1, flags: [.admin, .noScript, .loading, .stale], categories: ["@admin", "@slow", "@dangerous"], handler: monitorCommand),
]

public final class MonitorHub: Sendable {
    private let monitors = Locked<[Subscriber]>([])
    let count = Atomic<Int>(0)

    func add(_ s: Subscriber) {
        monitors.withLock { list in
            if !list.contains(s) { list.append(s) }
            count.store(list.count, ordering: .relaxed)
        }
    }

    func remove(clientID: Int) {
        monitors.withLock { list in
            list.removeAll { $0.clientID == clientID }
            count.store(list.count, ordering: .relaxed)
        }
    }

    func feed(_ c: Client, _ args: Arguments, hub: PubSubHub) {
        let now = c.now
        var line = "+\(now / 1000).\(String(now % 1000 * 1000 + 1_000_000).dropFirst()) [\(c.db) \(c.peerAddress.isEmpty ? "lua" : c.peerAddress)]"
        let redacted = args.matches(0, "auth") || args.matches(0, "hello")
        for i in 0..<args.count {
            line += " "
            line += (redacted && i > 0) ? "\"(redacted)\"" : quoted(args[i])
        }
        line += "\r\n"
        let bytes = Array(line.utf8)
        let targets = monitors.withLock { $0 }
        for t in targets where t.clientID != c.id && t.fd >= 0 && t.loop < hub.mailboxes.count {
            hub.mailboxes[t.loop].post(.init(fd: t.fd, tag: t.tag, bytes: bytes))
        }
    }

    /// Redis's sdscatrepr: double quotes, \\ \" \n \r \t \a \b escapes, \xHH for other
    /// non-printable bytes.
    private func quoted(_ p: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = [34]
        for b in p {
            switch b {
            case 92: out += [92, 92]
            case 34: out += [92, 34]
            case 10: out += [92, 110]
            case 13: out += [92, 114]
            case 9: out += [92, 116]
            case 7: out += [92, 97]
            case 8: out += [92, 98]
            case 32...126: out.append(b)
            default:
                let hex = Array("0123456789abcdef".utf8)
                out += [92, 120, hex[Int(b >> 4)], hex[Int(b & 15)]]
            }
        }
        out.append(34)
        return String(decoding: out, as: UTF8.self)
    }
}

func monitorCommand(_ c: Client, _ args: Arguments) {
    if c.inMulti { c.reply.error("ERR MONITOR isn't allowed inside MULTI"); return }
    c.server.monitors.add(c.subscriber)
    c.reply.ok()
}
