// CLIENT TRACKING, CLIENT CACHING, CLIENT GETREDIR, CLIENT TRACKINGINFO (Redis networking.c),
// and the dispatcher's per-command step while any client tracks: remember the keys a tracking
// client reads, name the writer for NOLOOP, and expire CLIENT CACHING after one command.
// The tables and the invalidation messages are in Server/Tracking.swift.

extension Dispatcher {
    /// Runs a command while some connection tracks keys (only then: `tracking.active` gates it).
    @inline(never)
    static func executeTracked(_ client: Client, _ spec: CommandSpec, _ args: Arguments) {
        let tracking = client.server.tracking
        if let t = client.tracking, t.currentFlags.contains(.on) {
            if spec.name == "exec" { t.inExec = true }
            if spec.flags.contains(.readonly) { tracking.rememberKeys(client, t, args) }
        }
        Tracking.setWriter(client.id)
        Dispatcher.runHandler(client, spec, args)
        Tracking.setWriter(0)
        guard let t = client.tracking else { return }
        // HELLO may have switched the protocol: invalidations follow the connection's.
        t.resp3.store(client.resp3, ordering: .relaxed)
        // Not inside EXEC: it holds its shards' locks, and making room locks others.
        if !t.inExec || spec.name == "exec" {
            tracking.makeRoom(client.keyspace)
            // Invalidations of this client's own writes, right after the reply (after a whole
            // transaction's reply for EXEC), as Redis does.
            if !t.ownPending.isEmpty {
                if client.replyMode == .on { client.output.append(t.ownPending) } else { tracking.postOwnPending(t) }
                t.ownPending = []
            }
        }
        // Redis's resetClient: CLIENT CACHING covers the next command, or a whole transaction.
        if spec.name == "exec" {
            t.inExec = false
            t.caching = false
        } else if !t.inExec && !client.inMulti && spec.name != "client" {
            t.caching = false
        }
    }
}

extension Tracking {
    /// Default mode: remembers the keys of a readonly command `t` is about to run, unless
    /// OPTIN without CACHING yes, or OPTOUT with CACHING no.
    func rememberKeys(_ c: Client, _ t: TrackingClient, _ args: Arguments) {
        let f = t.currentFlags
        if f.contains(.bcast) { return }
        if (f.contains(.optIn) && !t.caching) || (f.contains(.optOut) && t.caching) { return }
        guard case .keys(let positions) = commandKeyPositions(c.server.commands, args, offset: 0) else { return }
        let ks = c.keyspace
        for p in positions {
            ks.withShard(args[p]) { shard in remember(shard, args[p], t) }
        }
    }
}

/// CLIENT TRACKING on|off [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP]:
/// options are parsed first (their errors come first), then checked against each other and
/// against the client's current mode, in Redis's order.
func clientTrackingCommand(_ c: Client, _ args: Arguments) {
    var redirect = 0
    var options: TrackingFlags = []
    var prefixes: [[UInt8]] = []
    var j = 3
    while j < args.count {
        let more = j + 1 < args.count
        if args.matches(j, "redirect") && more {
            j += 1
            if redirect != 0 { c.reply.error("ERR A client can only redirect to a single other client"); return }
            guard let id = args.int64(j) else { c.reply.error(RedisError.notInteger); return }
            guard c.server.clients.record(id: Int(id)) != nil else {
                c.reply.error("ERR The client ID you want redirect to does not exist"); return
            }
            redirect = Int(id)
        } else if args.matches(j, "bcast") {
            options.insert(.bcast)
        } else if args.matches(j, "optin") {
            options.insert(.optIn)
        } else if args.matches(j, "optout") {
            options.insert(.optOut)
        } else if args.matches(j, "noloop") {
            options.insert(.noLoop)
        } else if args.matches(j, "prefix") && more {
            j += 1
            prefixes.append(args.bytes(j))
        } else {
            c.reply.error(RedisError.syntax); return
        }
        j += 1
    }
    let tracking = c.server.tracking
    if args.matches(2, "on") {
        let current = c.tracking?.currentFlags ?? []
        if !options.contains(.bcast) && !prefixes.isEmpty {
            c.reply.error("ERR PREFIX option requires BCAST mode to be enabled"); return
        }
        if current.contains(.on) && current.contains(.bcast) != options.contains(.bcast) {
            c.reply.error("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."); return
        }
        if options.contains(.bcast) && !options.isDisjoint(with: [.optIn, .optOut]) {
            c.reply.error("ERR OPTIN and OPTOUT are not compatible with BCAST"); return
        }
        if options.contains(.optIn) && options.contains(.optOut) {
            c.reply.error("ERR You can't specify both OPTIN mode and OPTOUT mode"); return
        }
        if (options.contains(.optIn) && current.contains(.optOut)) || (options.contains(.optOut) && current.contains(.optIn)) {
            c.reply.error("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."); return
        }
        if options.contains(.bcast), let message = prefixCollision(existing: c.tracking?.prefixes ?? [], prefixes) {
            c.reply.error(string: message); return
        }
        let t = c.tracking ?? TrackingClient(clientID: c.id, loop: c.loopIndex, fd: c.fd, tag: c.connectionTag)
        c.tracking = t
        tracking.enable(t, options: options, redirect: redirect, prefixes: prefixes, resp3: c.resp3)
    } else if args.matches(2, "off") {
        if let t = c.tracking { tracking.disable(t) }
    } else {
        c.reply.error(RedisError.syntax); return
    }
    c.reply.ok()
}

/// Redis's checkPrefixCollisionsOrReply: a client's prefixes must not overlap (one a prefix of
/// another), neither with those it has nor among the new ones.
private func prefixCollision(existing: [[UInt8]], _ new: [[UInt8]]) -> String? {
    func text(_ b: [UInt8]) -> String { String(decoding: b.prefix { $0 != 0 }, as: UTF8.self) }
    for (i, p) in new.enumerated() {
        if let e = existing.sorted(by: { $0.lexicographicallyPrecedes($1) }).first(where: { Tracking.overlaps($0, p) }) {
            return "ERR Prefix '\(text(p))' overlaps with an existing prefix '\(text(e))'. Prefixes for a single client must not overlap."
        }
        for q in new[(i + 1)...] where Tracking.overlaps(p, q) {
            return "ERR Prefix '\(text(p))' overlaps with another provided prefix '\(text(q))'. Prefixes for a single client must not overlap."
        }
    }
    return nil
}

func clientCachingCommand(_ c: Client, _ args: Arguments) {
    guard let t = c.tracking, t.currentFlags.contains(.on) else {
        c.reply.error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
        return
    }
    let f = t.currentFlags
    if args.matches(2, "yes") {
        guard f.contains(.optIn) else { c.reply.error("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."); return }
    } else if args.matches(2, "no") {
        guard f.contains(.optOut) else { c.reply.error("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."); return }
    } else {
        c.reply.error(RedisError.syntax); return
    }
    t.caching = true
    c.reply.ok()
}

func clientGetRedirCommand(_ c: Client, _ args: Arguments) {
    if let t = c.tracking, t.currentFlags.contains(.on) {
        c.reply.integer(t.redirect.load(ordering: .relaxed))
    } else {
        c.reply.integer(-1)
    }
}

func clientTrackingInfoCommand(_ c: Client, _ args: Arguments) {
    let t = c.tracking
    let f = t?.currentFlags ?? []
    var flags = [f.contains(.on) ? "on" : "off"]
    if f.contains(.bcast) { flags.append("bcast") }
    if f.contains(.optIn) {
        flags.append("optin")
        if t!.caching { flags.append("caching-yes") }
    }
    if f.contains(.optOut) {
        flags.append("optout")
        if t!.caching { flags.append("caching-no") }
    }
    if f.contains(.noLoop) { flags.append("noloop") }
    if f.contains(.brokenRedirect) { flags.append("broken_redirect") }
    c.reply.mapHeader(3)
    c.reply.bulk("flags")
    c.reply.setHeader(flags.count)
    for s in flags { c.reply.bulk(string: s) }
    c.reply.bulk("redirect")
    c.reply.integer(f.contains(.on) ? t!.redirect.load(ordering: .relaxed) : -1)
    c.reply.bulk("prefixes")
    let prefixes = (t?.prefixes ?? []).sorted { $0.lexicographicallyPrecedes($1) }
    c.reply.arrayHeader(prefixes.count)
    for p in prefixes { c.reply.bulk(p) }
}

extension Client {
    /// The CLIENT LIST flags and redir= value tracking adds (Redis's 't', 'R', 'B').
    var trackingListFields: (flags: String, redirect: Int) {
        guard let t = tracking else { return ("", -1) }
        let f = t.currentFlags
        guard f.contains(.on) else { return ("", -1) }
        var s = "t"
        if f.contains(.brokenRedirect) { s += "R" }
        if f.contains(.bcast) { s += "B" }
        return (s, t.redirect.load(ordering: .relaxed))
    }
}
