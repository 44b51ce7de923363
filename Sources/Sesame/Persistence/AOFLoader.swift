// Startup: replay the append-only file through the Dispatcher on an internal client, the same
// handlers clients reach, so loading can never disagree with the wire about semantics.
//
// - A last command cut short (crash mid-write) is dropped with a warning and the file is
//   truncated to the end of the last whole command (aof-load-truncated yes, Redis's default);
//   an unfinished MULTI at the end is dropped the same way.
// - Anything else malformed stops startup with the byte offset (Redis's "Bad file format").
// - A directory that holds only Redis 7's appendonlydir (manifest + base + incr files, the
//   base written with aof-use-rdb-preamble no) is loaded from there, then rewritten into
//   Sesame's single file: the migration path from Redis.

#if canImport(Glibc)
import Glibc
#endif

public struct AOFLoadError: Error, CustomStringConvertible {
    public let description: String
}

/// What one file held.
struct AOFLoadResult {
    var commands = 0
    /// Where the last whole command (outside a transaction) ends.
    var validBytes = 0
    var truncated = false
}

struct AOFLoader {
    let server: ServerState
    let log: Logger
    let loadTruncated: Bool

    /// Replays `path`. `mayTruncate`: fix a truncated tail in place (the file Sesame appends to).
    func load(path: String, mayTruncate: Bool) throws -> AOFLoadResult {
        let fd = open(path, mayTruncate ? O_RDWR : O_RDONLY)
        guard fd >= 0 else { throw AOFLoadError(description: "Can't open the append-only file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        let size = Int(st.st_size)
        if size == 0 { return AOFLoadResult() }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw AOFLoadError(description: "Can't map the append-only file \(path): \(String(cString: strerror(errno)))")
        }
        defer { munmap(map, size) }
        let bytes = UnsafeRawBufferPointer(start: map, count: size)
        if size >= 5 && bytes[0] == UInt8(ascii: "R") && bytes[1] == UInt8(ascii: "E") && bytes[2] == UInt8(ascii: "D") {
            throw AOFLoadError(description: "The append-only file \(path) starts with an RDB preamble, which Sesame cannot read. In Redis, run CONFIG SET aof-use-rdb-preamble no and BGREWRITEAOF, then load the new file.")
        }
        var result = try replay(bytes, path: path)
        if result.truncated {
            guard loadTruncated else {
                throw AOFLoadError(description: "Unexpected end of file reading the append only file \(path) at offset \(result.validBytes). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.")
            }
            log.warning("!!! Warning: short read while loading the AOF file \(path)!!!")
            log.warning("!!! Truncating the AOF \(path) at offset \(result.validBytes) !!!")
            if mayTruncate {
                if ftruncate(fd, off_t(result.validBytes)) != 0 {
                    throw AOFLoadError(description: "Error truncating the AOF file \(path): \(String(cString: strerror(errno)))")
                }
                fsync(fd)
            }
            log.warning("AOF \(path) loaded anyway because aof-load-truncated is enabled")
            result.truncated = true
        }
        return result
    }

    private func replay(_ bytes: UnsafeRawBufferPointer, path: String) throws -> AOFLoadResult {
        let client = Client(id: 0, server: server, output: ByteBuffer(capacity: 1024))
        client.authenticated = true
        var result = AOFLoadResult()
        var reader = AOFReader(bytes: bytes)
        var spans: [ArgumentSpan] = []
        var multiStart: Int? = nil
        var lastProgress = monotonicNanoseconds()
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        while reader.offset < bytes.count {
            let start = reader.offset
            switch reader.next(&spans) {
            case .truncated:
                result.validBytes = multiStart ?? start
                result.truncated = true
                if multiStart != nil { log.warning("Revert incomplete MULTI/EXEC transaction in AOF file \(path)") }
                client.multi = nil
                return result
            case .corrupt(let offset):
                throw AOFLoadError(description: "Bad file format reading the append only file \(path) at offset \(offset): make a backup of your AOF file, then use ./redis-check-aof --fix <filename>")
            case .command:
                break
            }
            let unknown: Bool = spans.withUnsafeBufferPointer { sp in
                let args = Arguments(base: base, spans: sp)
                guard let spec = server.commands.lookup(args[0]) else { return true }
                if spec.name == "multi" { multiStart = start }
                client.output.clear()
                Dispatcher.execute(client, args)
                if spec.name == "exec" { multiStart = nil }
                return false
            }
            if unknown {
                let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[spans[0].offset..<(spans[0].offset + spans[0].length)]), as: UTF8.self)
                throw AOFLoadError(description: "Unknown command '\(name)' reading the append only file \(path) at offset \(start)")
            }
            result.commands += 1
            if multiStart == nil { result.validBytes = reader.offset }
            if result.commands % 1024 == 0 {
                let now = monotonicNanoseconds()
                if now - lastProgress > 1_000_000_000 {
                    lastProgress = now
                    log.notice("Loading AOF \(path): \(reader.offset / (1 << 20)) MB of \(bytes.count / (1 << 20)) MB, \(result.commands) commands")
                }
            }
        }
        if multiStart != nil {
            log.warning("Revert incomplete MULTI/EXEC transaction in AOF file \(path)")
            result.validBytes = multiStart!
            result.truncated = true
            client.multi = nil
        }
        return result
    }
}

/// A RESP command reader over the mapped file: arrays of bulk strings only.
struct AOFReader {
    enum Outcome { case command, truncated, corrupt(Int) }
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    /// Parses `prefix` followed by a decimal and CRLF.
    private mutating func number(_ prefix: UInt8, max: Int) -> (Int?, Outcome?) {
        guard offset < bytes.count else { return (nil, .truncated) }
        guard bytes[offset] == prefix else { return (nil, .corrupt(offset)) }
        var i = offset + 1
        var n = 0
        var digits = 0
        while i < bytes.count && bytes[i] >= 48 && bytes[i] <= 57 {
            n = n * 10 + Int(bytes[i] - 48)
            digits += 1
            if digits > 12 { return (nil, .corrupt(i)) }
            i += 1
        }
        guard i < bytes.count else { return (nil, .truncated) }
        guard digits > 0, bytes[i] == 13 else { return (nil, .corrupt(i)) }
        guard i + 1 < bytes.count else { return (nil, .truncated) }
        guard bytes[i + 1] == 10 else { return (nil, .corrupt(i + 1)) }
        guard n <= max else { return (nil, .corrupt(offset)) }
        offset = i + 2
        return (n, nil)
    }

    mutating func next(_ spans: inout [ArgumentSpan]) -> Outcome {
        spans.removeAll(keepingCapacity: true)
        let (count, bad) = number(UInt8(ascii: "*"), max: 1 << 20)
        if let bad { return bad }
        guard let count, count >= 1 else { return .corrupt(offset) }
        for _ in 0..<count {
            let (len, bad) = number(UInt8(ascii: "$"), max: 512 << 20)
            if let bad { return bad }
            let length = len!
            guard offset + length + 2 <= bytes.count else { return .truncated }
            guard bytes[offset + length] == 13, bytes[offset + length + 1] == 10 else { return .corrupt(offset + length) }
            spans.append(ArgumentSpan(offset: offset, length: length))
            offset += length + 2
        }
        return .command
    }
}

extension AppendOnlyFile {
    /// Startup with appendonly yes: load the file (or migrate Redis's appendonlydir), then open
    /// it for appending. Throws, stopping startup, on corruption.
    func startUp(server: ServerState) throws {
        // A server stopped and started again in one process keeps its data: just reopen.
        if loadedOnce.exchange(true, ordering: .acquiringAndReleasing) {
            try open()
            return
        }
        // As in Redis, maxmemory does not apply while loading.
        let maxMemory = server.eviction.maxMemory
        server.eviction.maxMemory = 0
        defer { server.eviction.maxMemory = maxMemory }
        let loader = AOFLoader(server: server, log: log, loadTruncated: loadTruncated)
        let started = monotonicNanoseconds()
        var migrated = false
        var commands = 0
        if access(path, F_OK) == 0 {
            commands = try loader.load(path: path, mayTruncate: true).commands
        } else if let files = try redisManifestFiles() {
            for f in files {
                log.notice("Loading Redis AOF file \(f)")
                commands += try loader.load(path: f, mayTruncate: false).commands
            }
            migrated = true
        }
        let keys = server.keyspace.keyspaceStats().reduce(0) { $0 + $1.keys }
        loadedKeys.store(keys, ordering: .relaxed)
        lastSave.store(Int(time(nil)), ordering: .relaxed)
        let seconds = Double(monotonicNanoseconds() - started) / 1e9
        if commands > 0 || migrated {
            log.notice("DB loaded from append only file: \(String(format3(seconds))) seconds, \(commands) commands, \(keys) keys")
        }
        rewriteKeyspaceBox.withLock { $0 = server.keyspace }
        if migrated {
            guard rewriteAndWait(server.keyspace, enabling: true) else {
                throw AOFLoadError(description: "Could not write \(path) from the Redis AOF directory")
            }
            startCron()
            log.notice("Migrated Redis's \(directory)/appendonlydir into \(path)")
            return
        }
        try open()
    }

    /// CONFIG SET appendonly yes: the file starts as a rewrite of the live data.
    func enableAtRuntime(_ keyspace: Keyspace) -> Bool {
        if enabled.load(ordering: .acquiring) { return true }
        rewriteKeyspaceBox.withLock { $0 = keyspace }
        signal(SIGXFSZ, SIG_IGN)
        guard rewriteAndWait(keyspace, enabling: true) else {
            enabled.store(false, ordering: .releasing)
            return false
        }
        startCron()
        return true
    }

    /// The files Redis 7's manifest lists (base first, then incr in order), or nil without one.
    private func redisManifestFiles() throws -> [String]? {
        let dirPath = directory + "/appendonlydir"
        let manifest = dirPath + "/" + fileName + ".manifest"
        guard access(manifest, F_OK) == 0 else { return nil }
        let text: String
        do { text = try readFile(manifest) } catch {
            throw AOFLoadError(description: "Can't read the AOF manifest \(manifest): \(error)")
        }
        var base: [String] = []
        var incr: [(Int, String)] = []
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            var name: String? = nil, type: String? = nil, seq = 0
            var i = 0
            while i + 1 < words.count {
                switch words[i] {
                case "file": name = words[i + 1]
                case "type": type = words[i + 1]
                case "seq": seq = Int(words[i + 1]) ?? 0
                default: break
                }
                i += 2
            }
            guard let name, let type else { continue }
            if type == "b" { base.append(dirPath + "/" + name) }
            if type == "i" { incr.append((seq, dirPath + "/" + name)) }
        }
        return base + incr.sorted { $0.0 < $1.0 }.map(\.1)
    }
}

private func format3(_ v: Double) -> String {
    let ms = Int((v * 1000).rounded())
    let frac = String(ms % 1000)
    return "\(ms / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
}
