// CLIENT LIST, CLIENT KILL, CLIENT REPLY, CLIENT NO-EVICT: the CLIENT subcommands that look at
// or act on other connections, through the ClientRegistry (see Server/ClientRegistry.swift).

func clientListCommand(_ c: Client, _ args: Arguments) {
    c.refreshRecord(lastCommand: "client|list")
    var records = c.server.clients.all()
    var j = 2
    while j < args.count {
        if args.matches(j, "type") && j + 1 < args.count {
            let t = args.string(j + 1).lowercased()
            switch t {
            case "normal": records = records.filter { !$0.isPubSub }
            case "pubsub": records = records.filter { $0.isPubSub }
            case "master", "replica", "slave": records = []
            default: c.reply.error(string: "ERR Unknown client type '\(args.string(j + 1))'"); return
            }
            j += 2
        } else if args.matches(j, "id") && j + 1 < args.count {
            var ids = Set<Int>()
            var k = j + 1
            while k < args.count {
                guard let id = args.int64(k), id > 0 else { c.reply.error("ERR Invalid client ID"); return }
                ids.insert(Int(id))
                k += 1
            }
            records = records.filter { ids.contains($0.id) }
            j = k
        } else {
            c.reply.error(RedisError.syntax); return
        }
    }
    let now = c.now
    c.reply.verbatim(records.map { $0.line(now: now) + "\n" }.joined())
}

func clientInfoCommand(_ c: Client, _ args: Arguments) {
    c.refreshRecord(lastCommand: "client|info")
    guard let record = c.record else { c.reply.verbatim(clientInfoLine(c) + "\n"); return }
    c.reply.verbatim(record.line(now: c.now) + "\n")
}

/// CLIENT KILL addr (old form: +OK or an error) and CLIENT KILL <filter> <value> ... (new form:
/// the number killed). Filters: ID, ADDR, LADDR, TYPE, USER, SKIPME.
func clientKillCommand(_ c: Client, _ args: Arguments) {
    var records = c.server.clients.all()
    if args.count == 3 {
        let addr = args.string(2)
        guard let r = records.first(where: { $0.address == addr }) else {
            c.reply.error("ERR No such client"); return
        }
        kill(c, r)
        c.reply.ok()
        return
    }
    guard args.count % 2 == 0 else { c.reply.error(RedisError.syntax); return }
    var skipMe = true
    var j = 2
    while j < args.count {
        let value = args.string(j + 1)
        if args.matches(j, "id") {
            guard let id = args.int64(j + 1), id > 0 else { c.reply.error("ERR client-id should be greater than 0"); return }
            records = records.filter { $0.id == Int(id) }
        } else if args.matches(j, "addr") {
            records = records.filter { $0.address == value }
        } else if args.matches(j, "laddr") {
            records = []
        } else if args.matches(j, "type") {
            switch value.lowercased() {
            case "normal": records = records.filter { !$0.isPubSub }
            case "pubsub": records = records.filter { $0.isPubSub }
            case "master", "replica", "slave": records = []
            default: c.reply.error(string: "ERR Unknown client type '\(value)'"); return
            }
        } else if args.matches(j, "user") {
            if value != "default" { c.reply.error(string: "ERR No such user '\(value)'"); return }
        } else if args.matches(j, "skipme") {
            switch value.lowercased() {
            case "yes": skipMe = true
            case "no": skipMe = false
            default: c.reply.error(RedisError.syntax); return
            }
        } else {
            c.reply.error(RedisError.syntax); return
        }
        j += 2
    }
    if skipMe { records = records.filter { $0.id != c.id } }
    for r in records {
        if r.id == c.id { c.closeAfterReply = true } else { kill(c, r) }
    }
    c.reply.integer(records.count)
}

private func kill(_ c: Client, _ r: ClientRecord) {
    if r.id == c.id { c.closeAfterReply = true; return }
    c.server.pubsub.mailboxes[r.loop].post(.init(fd: r.fd, tag: r.tag, bytes: [], kill: true))
}

func clientReplyCommand(_ c: Client, _ args: Arguments) {
    if args.matches(2, "on") {
        c.replyMode = .on
        c.reply.ok()
    } else if args.matches(2, "off") {
        c.replyMode = .off
    } else if args.matches(2, "skip") {
        if c.replyMode == .on { c.replyMode = .skipNext }
    } else {
        c.reply.error(RedisError.syntax)
    }
}

func clientNoEvictCommand(_ c: Client, _ args: Arguments) {
    if args.matches(2, "on") || args.matches(2, "off") {
        c.reply.ok()
    } else {
        c.reply.error(RedisError.syntax)
    }
}
