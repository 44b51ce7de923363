// libFuzzer entry point for the request path: bytes -> RESPParser -> Dispatcher -> handlers,
// exactly as an event loop drives them (Network/EventLoop.swift runCommands), minus sockets.
// Compiled together with every file of Sources/Sesame into one module (see README.md), so it
// uses internal API directly. Not part of Package.swift: -sanitize=fuzzer needs unsafeFlags.
//
// Input layout: byte 0 picks a configuration variant, the rest is what a client sends.
//   bits 0-1  chunking: all at once, 1 byte, 7 bytes, or sizes taken from the input itself
//   bit 2     requirepass "pw" (so NOAUTH, the unauthenticated parser limits, AUTH, HELLO AUTH)
//   bit 3     maxmemory 8 KB (eviction and -OOM on every write)
//   bits 4-6  maxmemory-policy
//   bit 7     RESP3 (HELLO 3 before the input)
// Modes with bit 3 clear and bits 4-6 all set (policy bits that meant nothing without
// maxmemory) fuzz the HTTP API instead: see FuzzHTTP.swift.
// Each variant's server state (two shards, a manual clock) is reused but flushed and reset
// before every input, so a crash reproduces from its input alone.

/// One server state per configuration variant, built on first use and reset before every
/// input (building one per input costs more than running most inputs).
nonisolated(unsafe) private var states: [UInt8: (ServerState, ManualClock)] = [:]

private func state(for mode: UInt8) -> (ServerState, ManualClock) {
    let variant = mode & 0x7C
    if let s = states[variant] { return s }
    var config = Configuration()
    config.threads = 1
    config.shards = 2
    config.databases = 16
    config.expiryTickMilliseconds = 10
    // Small limits so the fuzzer reaches every limit path with short inputs.
    config.limits.maxBulkLength = 1 << 20
    config.limits.maxMultibulkLength = 1024
    config.limits.maxInlineLength = 1024
    // COMMAND writes the whole command table (~60 KB) whatever its input; left in, it took
    // 60% of the fuzzer's time. Disabled through rename-command, which this also exercises.
    try! config.addRename("command", "")
    if variant & 4 != 0 { config.requirePass = "pw" }
    if variant & 8 != 0 {
        config.maxMemory = 8 * 1024
        let policies = EvictionPolicy.allCases
        config.maxMemoryPolicy = policies[Int((variant >> 4) & 7) % policies.count]
    }
    let clock = ManualClock(startingAt: 1_700_000_000_000)
    let s = (ServerState(configuration: config, clock: clock), clock)
    states[variant] = s
    return s
}

@_cdecl("LLVMFuzzerTestOneInput")
public func sesameFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 0 else { return 0 }
    let mode = data[0]
    let (state, clock) = state(for: mode)
    let config = state.configuration
    // Undo what the previous input may have changed (data, CONFIG SET).
    state.keyspace.flush(db: nil)
    state.eviction.maxMemory = config.maxMemory
    state.eviction.policy = config.maxMemoryPolicy
    state.eviction.samples = config.maxMemorySamples
    _ = state.setNotifyKeyspaceEvents(config.notifyKeyspaceEvents)
    state.tracking.maxKeys.store(1_000_000, ordering: .relaxed)
    if isHTTPMode(mode) {
        fuzzHTTP(mode, state, UnsafeRawBufferPointer(start: data + 1, count: size - 1))
        return 0
    }
    let client = Client(id: 1, server: state, output: ByteBuffer(capacity: 256))
    var parser = RESPParser(limits: config.limits)
    let input = ByteBuffer(capacity: 64)
    defer { client.connectionClosed() }

    if mode & 0x80 != 0 {
        OwnedArguments(["HELLO", "3"]).withArguments { Dispatcher.execute(client, $0) }
    }

    let bytes = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    var pos = 0
    var sizeSeed = mode
    var chunks = 0
    while pos < bytes.count && !client.closeAfterReply {
        let chunk: Int
        switch mode & 3 {
        case 0: chunk = bytes.count - pos
        case 1: chunk = 1
        case 2: chunk = 7
        default:
            sizeSeed = sizeSeed &* 37 &+ bytes[pos]
            chunk = Int(sizeSeed % 61) + 1
        }
        let n = min(chunk, bytes.count - pos)
        parser.bufferShifted(by: input.reserve(n))
        input.append(UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + n)]))
        pos += n
        runCommands(&parser, input, client)
        // A reading client: replies are consumed, so output never accumulates across chunks.
        client.output.clear()
        // Time passes between reads: lazy and active expiry both get their turn.
        clock.advance(milliseconds: 3)
        chunks += 1
        if chunks & 15 == 0 { _ = state.keyspace.expireCycle(first: 0, stride: 1, budget: 64) }
    }
    clock.advance(milliseconds: 1000)
    _ = state.keyspace.expireCycle(first: 0, stride: 1, budget: 1000)
    return 0
}

/// EventLoop.runCommands without the socket: every complete command in the buffer.
private func runCommands(_ parser: inout RESPParser, _ input: ByteBuffer, _ client: Client) {
    while !client.closeAfterReply {
        parser.authRequired = !client.authenticated
        switch parser.next(input) {
        case .command:
            if client.replyMode == .on {
                parser.withArguments(input) { Dispatcher.execute(client, $0) }
            } else {
                let mark = client.output.writerIndex
                if client.replyMode == .skipNext { client.replyMode = .skipThis }
                parser.withArguments(input) { Dispatcher.execute(client, $0) }
                if client.replyMode != .on && client.replyMode != .skipNext { client.output.writerIndex = mark }
                if client.replyMode == .skipThis { client.replyMode = .on }
            }
            parser.commandDone(input)
        case .empty:
            continue
        case .needMore:
            if input.isEmpty { input.shrinkIfIdle() }
            return
        case .protocolError(let message):
            client.reply.error(string: "ERR " + message)
            client.closeAfterReply = true
            input.clear()
        }
    }
}
