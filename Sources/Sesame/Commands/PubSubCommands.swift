// Pub/Sub commands (Redis pubsub.c): SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH,
// PUBSUB CHANNELS/NUMSUB/NUMPAT. In RESP2 a subscribed connection may only run the
// (un)subscribe commands, PING, QUIT and RESET (enforced by the Dispatcher); in RESP3 messages
// are push frames and every command stays available.

let pubsubCommands: [CommandSpec] = [
    CommandSpec("subscribe", arity: -2, flags: [.noScript, .loading, .stale], categories: ["@pubsub", "@slow"], handler: { subscribeGeneric($0, $1, pattern: false) }),
    CommandSpec("psubscribe", arity: -2, flags: [.noScript, .loading, .stale], categories: ["@pubsub", "@slow"], handler: { subscribeGeneric($0, $1, pattern: true) }),
    CommandSpec("unsubscribe", arity: -1, flags: [.noScript, .loading, .stale], categories: ["@pubsub", "@slow"], handler: { unsubscribeGeneric($0, $1, pattern: false) }),
    CommandSpec("punsubscribe", arity: -1, flags: [.noScript, .loading, .stale], categories: ["@pubsub", "@slow"], handler: { unsubscribeGeneric($0, $1, pattern: true) }),
    CommandSpec("publish", arity: 3, flags: [.loading, .stale, .fast], categories: ["@pubsub", "@fast"], handler: publishCommand),
    CommandSpec("pubsub", arity: -2, flags: [], categories: ["@slow"], handler: pubsubCommand),
]

/// Commands a RESP2 connection in subscribed mode may still run.
func allowedWhileSubscribed(_ name: String) -> Bool {
    switch name {
    case "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe", "punsubscribe", "ping", "quit", "reset":
        return true
    default:
        return false
    }
}

extension Client {
    var subscriber: Subscriber {
        Subscriber(clientID: id, loop: loopIndex, fd: fd, tag: connectionTag, resp3: resp3)
    }

    var subscriptionCount: Int { channels.count + patterns.count }

    /// `subscribe`/`unsubscribe`-style confirmation: kind, channel (or null), count.
    func subscriptionReply(_ kind: StaticString, _ channel: [UInt8]?) {
        if resp3 { out(">3\r\n") } else { out("*3\r\n") }
        reply.bulk(kind)
        if let channel { reply.bulk(channel) } else { reply.null() }
        reply.integer(subscriptionCount)
    }

    private func out(_ s: StaticString) { output.append(s) }

    /// Drops every subscription (UNSUBSCRIBE without arguments, RESET, disconnect).
    func unsubscribeAll() {
        let hub = server.pubsub
        let me = subscriber
        for ch in channels { hub.unsubscribe(ch, me, pattern: false) }
        for p in patterns { hub.unsubscribe(p, me, pattern: true) }
        channels.removeAll()
        patterns.removeAll()
    }
}

func subscribeGeneric(_ c: Client, _ args: Arguments, pattern: Bool) {
    for i in 1..<args.count {
        let ch = args.key(i)
        let inserted = c.insertSubscription(ch, pattern: pattern)
        if inserted { c.server.pubsub.subscribe(ch, c.subscriber, pattern: pattern) }
        c.subscriptionReply(pattern ? "psubscribe" : "subscribe", ch.bytes)
    }
}

func unsubscribeGeneric(_ c: Client, _ args: Arguments, pattern: Bool) {
    let kind: StaticString = pattern ? "punsubscribe" : "unsubscribe"
    var targets: [Key]
    if args.count == 1 {
        targets = Array(pattern ? c.patterns : c.channels)
        if targets.isEmpty { c.subscriptionReply(kind, nil); return }
    } else {
        targets = (1..<args.count).map { args.key($0) }
    }
    for ch in targets {
        let removed = c.removeSubscription(ch, pattern: pattern)
        if removed { c.server.pubsub.unsubscribe(ch, c.subscriber, pattern: pattern) }
        c.subscriptionReply(kind, ch.bytes)
    }
}

func publishCommand(_ c: Client, _ args: Arguments) {
    c.reply.integer(c.server.pubsub.publish(args.bytes(1), args.bytes(2)))
}

func pubsubCommand(_ c: Client, _ args: Arguments) {
    Dispatcher.subcommand(c, args, parent: "pubsub", [
        ("channels", -2, { c, a in
            if a.count > 3 { c.reply.error(string: RedisError.arity("pubsub|channels")); return }
            let list = c.server.pubsub.activeChannels(matching: a.count == 3 ? a.bytes(2) : nil)
            c.reply.arrayHeader(list.count)
            for ch in list { c.reply.bulk(ch) }
        }),
        ("numsub", -2, { c, a in
            c.reply.mapHeader(a.count - 2)
            for i in 2..<a.count {
                c.reply.bulk(a[i])
                c.reply.integer(c.server.pubsub.subscriberCount(a.bytes(i)))
            }
        }),
        ("numpat", 2, { c, _ in c.reply.integer(c.server.pubsub.patternCount) }),
        ("help", 2, { c, _ in
            let lines = ["PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                         "CHANNELS [<pattern>]", "    Return the currently active channels matching a <pattern> (default: '*').",
                         "NUMPAT", "    Return number of subscriptions to patterns.",
                         "NUMSUB [<channel> ...]", "    Return the number of subscribers for the specified channels, excluding",
                         "    pattern subscriptions(default: no channels).",
                         "HELP", "    Print this help."]
            c.reply.arrayHeader(lines.count)
            for l in lines { c.reply.simple(string: l) }
        }),
    ])
}
