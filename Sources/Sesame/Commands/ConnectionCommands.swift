// Connection commands (Redis networking.c / server.c): PING, ECHO, QUIT, HELLO, AUTH, SELECT
// and CLIENT. These change per-connection state only.

let connectionCommands: [CommandSpec] = [
    CommandSpec("ping", arity: -1, flags: [.fast, .stale], categories: ["@fast", "@connection"], handler: pingCommand),
    CommandSpec("echo", arity: 2, flags: [.fast, .stale], categories: ["@fast", "@connection"], handler: { c, a in c.reply.bulk(a[1]) }),
    CommandSpec("quit", arity: -1, flags: [.fast, .noAuth, .stale, .loading, .noScript], categories: ["@fast", "@connection"], handler: quitCommand),
    CommandSpec("hello", arity: -1, flags: [.fast, .noAuth, .stale, .loading, .noScript], categories: ["@fast", "@connection"], handler: helloCommand),
    CommandSpec("auth", arity: -2, flags: [.fast, .noAuth, .stale, .loading, .noScript], categories: ["@fast", "@connection"], handler: authCommand),
    CommandSpec("select", arity: 2, flags: [.fast, .loading, .stale], categories: ["@keyspace", "@fast"], handler: selectCommand),
    CommandSpec("client", arity: -2, flags: [], categories: ["@slow"], handler: clientCommand),
]

/// The version clients see. Redis 7.2 is what Sesame's replies follow.
public let redisCompatibleVersion = "7.2.4"
public let sesameVersion = "0.1.0"

func pingCommand(_ c: Client, _ args: Arguments) {
    if args.count > 2 { c.reply.error(string: RedisError.arity("ping")); return }
    if c.isSubscribed && !c.resp3 {
        // Subscribed RESP2 connections get PING as a two-element array (Redis pingCommand).
        c.reply.arrayHeader(2)
        c.reply.bulk("pong")
        if args.count == 2 { c.reply.bulk(args[1]) } else { c.reply.bulk("") }
        return
    }
    if args.count == 2 { c.reply.bulk(args[1]) } else { c.reply.simple("PONG") }
}

func quitCommand(_ c: Client, _ args: Arguments) {
    c.reply.ok()
    c.closeAfterReply = true
}

func selectCommand(_ c: Client, _ args: Arguments) {
    guard let n = args.int64(1) else { c.reply.error(RedisError.notInteger); return }
    guard n >= Int64(Int32.min) && n <= Int64(Int32.max) else { c.reply.error(RedisError.intOutOfRange); return }
    if n != 0 && c.server.cluster.refusesOtherDatabases { c.reply.error(ClusterError.selectNotAllowed); return }
    guard n >= 0 && n < Int64(c.keyspace.databases) else {
        c.reply.error(RedisError.dbIndexOutOfRange); return
    }
    c.db = Int(n)
    c.reply.ok()
}

/// Checks a username/password pair against the configuration. Without `requirepass` the
/// default user has no password, so any password is accepted for "default" (Redis's nopass).
func checkCredentials(_ c: Client, user: String, password: [UInt8]) -> Bool {
    guard user == "default" else { return false }
    guard let required = c.server.configuration.requirePass else { return true }
    return constantTimeEqual(Array(required.utf8), password)
}

/// Compares without an early exit, so response time does not reveal a password prefix.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
    for i in 0..<max(a.count, b.count) {
        let x = i < a.count ? a[i] : 0
        let y = i < b.count ? b[i] : 0
        diff |= x ^ y
    }
    return diff == 0
}

func authCommand(_ c: Client, _ args: Arguments) {
    if args.count > 3 { c.reply.error(RedisError.syntax); return }
    if args.count == 2 && c.server.configuration.requirePass == nil {
        c.reply.error(RedisError.authNotConfigured); return
    }
    let user = args.count == 3 ? args.string(1) : "default"
    if checkCredentials(c, user: user, password: args.bytes(args.count - 1)) {
        c.authenticated = true
        c.reply.ok()
    } else {
        c.server.authFailures.wrappingAdd(1, ordering: .relaxed)
        c.reply.error(RedisError.wrongPass)
    }
}

func helloCommand(_ c: Client, _ args: Arguments) {
    var version = c.resp3 ? 3 : 2
    var j = 1
    if args.count >= 2 {
        guard let v = args.int64(1) else { c.reply.error(RedisError.protoNotInteger); return }
        if v < 2 || v > 3 { c.reply.error(RedisError.noProto); return }
        version = Int(v)
        j = 2
    }
    var authUser: String? = nil, authPass: [UInt8] = [], newName: [UInt8]? = nil
    while j < args.count {
        let more = args.count - j - 1
        if args.matches(j, "auth") && more >= 2 {
            authUser = args.string(j + 1); authPass = args.bytes(j + 2); j += 3
        } else if args.matches(j, "setname") && more >= 1 {
            newName = args.bytes(j + 1); j += 2
        } else {
            var t = ErrorText("ERR Syntax error in HELLO option '")
            t.appendArgument(args[j]); t.append("'")
            c.reply.error(t); return
        }
    }
    if let user = authUser {
        guard checkCredentials(c, user: user, password: authPass) else {
            c.server.authFailures.wrappingAdd(1, ordering: .relaxed)
            c.reply.error(RedisError.wrongPass)
            return
        }
        c.authenticated = true
    }
    if !c.authenticated {
        c.reply.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
        return
    }
    if let name = newName {
        guard validClientName(name) else { c.reply.error(RedisError.clientNameInvalid); return }
        c.name = name.isEmpty ? nil : name
    }
    c.resp3 = version == 3
    c.reply.mapHeader(7)
    c.reply.bulk("server"); c.reply.bulk("redis")
    c.reply.bulk("version"); c.reply.bulk(string: redisCompatibleVersion)
    c.reply.bulk("proto"); c.reply.integer(version)
    c.reply.bulk("id"); c.reply.integer(c.id)
    c.reply.bulk("mode"); c.reply.bulk(c.server.cluster.enabled ? "cluster" : "standalone")
    c.reply.bulk("role"); c.reply.bulk("master")
    c.reply.bulk("modules"); c.reply.arrayHeader(0)
}

/// Redis allows client names of printable ASCII without spaces ('!' ... '~').
func validClientName(_ name: [UInt8]) -> Bool {
    name.allSatisfy { $0 >= 33 && $0 <= 126 }
}

func clientCommand(_ c: Client, _ args: Arguments) {
    Dispatcher.subcommand(c, args, parent: "client", [
        ("id", 2, { c, _ in c.reply.integer(c.id) }),
        ("getname", 2, { c, _ in
            if let n = c.name { c.reply.bulk(n) } else { c.reply.null() }
        }),
        ("setname", 3, { c, a in
            let name = a.bytes(2)
            guard validClientName(name) else { c.reply.error(RedisError.clientNameInvalid); return }
            c.name = name.isEmpty ? nil : name
            c.reply.ok()
        }),
        ("setinfo", 4, { c, a in
            let isName = a.matches(2, "lib-name")
            guard isName || a.matches(2, "lib-ver") else {
                var t = ErrorText("ERR Unrecognized option '")
                t.appendArgument(a[2]); t.append("'")
                c.reply.error(t); return
            }
            let value = a.bytes(3)
            guard validClientName(value) || value.isEmpty else {
                var t = ErrorText("ERR ")
                t.appendArgument(a[2]); t.append(" cannot contain spaces, newlines or special characters.")
                c.reply.error(t); return
            }
            if isName { c.libName = value } else { c.libVersion = value }
            c.reply.ok()
        }),
        ("info", 2, clientInfoCommand),
        ("list", -2, clientListCommand),
        ("kill", -3, clientKillCommand),
        ("reply", 3, clientReplyCommand),
        ("no-evict", 3, clientNoEvictCommand),
        ("tracking", -3, clientTrackingCommand),
        ("caching", 3, clientCachingCommand),
        ("getredir", 2, clientGetRedirCommand),
        ("trackinginfo", 2, clientTrackingInfoCommand),
        ("help", 2, { c, _ in
            let lines = ["CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                         "CACHING (YES|NO)", "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
                         "GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
                         "GETNAME", "    Return the name of the current connection.",
                         "ID", "    Return the ID of the current connection.",
                         "INFO", "    Return information about the current client connection.",
                         "KILL <ip:port>", "    Kill connection made from <ip:port>.",
                         "KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME.",
                         "LIST [options ...]", "    Return information about client connections. Options: TYPE, ID.",
                         "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
                         "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
                         "SETINFO <option> <value>", "    Set client meta attr. Options are:",
                         "    * LIB-NAME: the client lib name.", "    * LIB-VER: the client lib version.",
                         "SETNAME <name>", "    Assign the name <name> to the current connection.",
                         "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix>] [OPTIN] [OPTOUT] [NOLOOP]",
                         "    Control server assisted client side caching.",
                         "TRACKINGINFO", "    Report tracking status for the current connection.",
                         "HELP", "    Print this help."]
            c.reply.arrayHeader(lines.count)
            for l in lines { c.reply.simple(string: l) }
        }),
    ])
}

func clientInfoLine(_ c: Client) -> String {
    let now = c.now
    func s(_ b: [UInt8]?) -> String { b.map { String(decoding: $0, as: UTF8.self) } ?? "" }
    return "id=\(c.id) addr=\(c.peerAddress) laddr= fd=\(c.fd) name=\(s(c.name)) age=\((now - c.createdAt) / 1000) idle=\((now - c.lastCommandAt) / 1000) flags=N db=\(c.db) sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|info user=default redir=-1 resp=\(c.resp3 ? 3 : 2) lib-name=\(s(c.libName)) lib-ver=\(s(c.libVersion))"
}
