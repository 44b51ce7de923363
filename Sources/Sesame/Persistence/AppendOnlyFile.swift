// The append-only file (Redis's AOF, legacy single-file form): every change to the data, as a
// RESP command, appended to one file that is replayed at startup. See docs/PERSISTENCE.md.
//
// Three locks, always taken in this order when more than one is needed:
//   syncLock   — held around a background fsync and around the rewrite's final switch, so the
//                descriptor being fsynced is never closed under it;
//   fileLock   — the descriptor, its size and the bytes that failed to reach it; held while
//                writing (and, under `always`, fsyncing) so writes reach the file in the order
//                their records were appended;
//   bufferLock — the in-memory streams records are appended to. Appends happen while the
//                appending command holds its keys' shard locks, which is what makes the log
//                order a valid serial order (per key, and per MULTI/EXEC as a unit).

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

public enum AppendFsync: Int, Sendable, CaseIterable {
    case always = 0, everysec = 1, no = 2
    public var name: String {
        switch self {
        case .always: "always"
        case .everysec: "everysec"
        case .no: "no"
        }
    }
    public init?(name: String) {
        guard let v = AppendFsync.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = v
    }
}

/// Records in the order they must reach a file, with the database the stream last selected so
/// a SELECT is written only when the database changes.
struct AOFStream {
    var bytes: [UInt8] = []
    var db = -1

    mutating func append(db: Int, _ record: UnsafeRawBufferPointer) {
        if db != self.db {
            var select = AOFRecord()
            select.command("SELECT", [decimalBytes(Int64(db))])
            bytes.append(contentsOf: select.bytes)
            self.db = db
        }
        bytes.append(contentsOf: record)
    }

    mutating func append(db: Int, arguments args: Arguments) {
        if db != self.db {
            var select = AOFRecord()
            select.command("SELECT", [decimalBytes(Int64(db))])
            bytes.append(contentsOf: select.bytes)
            self.db = db
        }
        bytes.append(UInt8(ascii: "*"))
        appendDecimal(args.count)
        for i in 0..<args.count {
            let a = args[i]
            bytes.append(UInt8(ascii: "$"))
            appendDecimal(a.count)
            bytes.append(contentsOf: a)
            bytes.append(13); bytes.append(10)
        }
    }

    mutating func append(db: Int, command: AOFCommand) {
        if db != self.db {
            var select = AOFRecord()
            select.command("SELECT", [decimalBytes(Int64(db))])
            bytes.append(contentsOf: select.bytes)
            self.db = db
        }
        command.encode(into: &self)
    }

    mutating func appendHeader(_ marker: UInt8, _ n: Int) {
        bytes.append(marker)
        appendDecimal(n)
    }

    /// One bulk string: `$len`, the bytes, CRLF.
    mutating func appendBulk(_ p: UnsafeRawBufferPointer) {
        appendHeader(UInt8(ascii: "$"), p.count)
        bytes.append(contentsOf: p)
        bytes.append(13); bytes.append(10)
    }

    mutating func appendBulk(_ s: StaticString) {
        appendBulk(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// A non-negative integer as a bulk string.
    mutating func appendBulk(number v: Int64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { p in
            var n = UInt64(max(v, 0)), count = 0
            repeat {
                p[23 - count] = UInt8(48 + n % 10)
                n /= 10
                count += 1
            } while n > 0
            appendBulk(UnsafeRawBufferPointer(rebasing: p[(24 - count)...]))
        }
    }

    /// A non-negative decimal and CRLF, without building a String.
    private mutating func appendDecimal(_ v: Int) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                      UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = v, count = 0
        withUnsafeMutableBytes(of: &digits) { p in
            repeat {
                p[19 - count] = UInt8(48 + n % 10)
                n /= 10
                count += 1
            } while n > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[(20 - count)...]))
        }
        bytes.append(13); bytes.append(10)
    }
}

/// A command logged by its effect (SET key value PXAT ms, PEXPIREAT key ms, DEL key, ...):
/// borrowed slices, encoded straight into the streams without building a record.
struct AOFCommand {
    var name: StaticString
    var key: UnsafeRawBufferPointer
    var value: UnsafeRawBufferPointer? = nil
    var option: StaticString? = nil
    var number: Int64? = nil

    func encode(into s: inout AOFStream) {
        s.appendHeader(UInt8(ascii: "*"), 2 + (value == nil ? 0 : 1) + (option == nil ? 0 : 1) + (number == nil ? 0 : 1))
        s.appendBulk(name)
        s.appendBulk(key)
        if let value { s.appendBulk(value) }
        if let option { s.appendBulk(option) }
        if let number { s.appendBulk(number: number) }
    }

    var bytes: [UInt8] {
        var s = AOFStream()
        s.db = Int.min
        encode(into: &s)
        return s.bytes
    }
}

/// RESP array-of-bulk-strings encoding, the only form an AOF holds.
struct AOFRecord {
    var bytes: [UInt8] = []

    mutating func header(_ count: Int) {
        bytes.append(UInt8(ascii: "*"))
        bytes.append(contentsOf: decimalBytes(Int64(count)))
        bytes.append(13); bytes.append(10)
    }

    mutating func arg(_ p: UnsafeRawBufferPointer) {
        bytes.append(UInt8(ascii: "$"))
        bytes.append(contentsOf: decimalBytes(Int64(p.count)))
        bytes.append(13); bytes.append(10)
        bytes.append(contentsOf: p)
        bytes.append(13); bytes.append(10)
    }

    mutating func arg(_ a: [UInt8]) { a.withUnsafeBytes { arg($0) } }
    mutating func arg(_ s: String) { arg(Array(s.utf8)) }

    /// A whole command: the name, then `rest`.
    mutating func command(_ name: String, _ rest: [[UInt8]]) {
        header(1 + rest.count)
        arg(name)
        for a in rest { arg(a) }
    }
}

public final class AppendOnlyFile: @unchecked Sendable {
    /// Logging is on: write commands go through AOFCommandLog, expirations are logged.
    public let enabled = Atomic<Bool>(false)
    let fsyncPolicy = Atomic<Int>(AppendFsync.everysec.rawValue)
    let autoRewritePercentage = Atomic<Int>(100)
    let autoRewriteMinSize = Atomic<Int>(64 * 1024 * 1024)
    let loadTruncated: Bool
    public let directory: String
    public let fileName: String
    let log: Logger

    // Append side (bufferLock).
    private let bufferLock = ShardLock()
    private var main = AOFStream()
    private var rewriteStream: AOFStream? = nil
    /// Records appended so far; written under bufferLock, read anywhere.
    let appendedSeq = Atomic<UInt64>(0)

    // File side (fileLock).
    private let fileLock = ShardLock()
    private var fd: Int32 = -1
    /// Bytes taken from the stream that could not be written yet (disk full): retried first.
    private var unwritten: [UInt8] = []
    private var unwrittenSeq: UInt64 = 0
    let writtenSeq = Atomic<UInt64>(0)
    let syncedSeq = Atomic<UInt64>(0)
    let currentSize = Atomic<Int>(0)
    /// The size right after the last rewrite (or at startup): auto rewrite measures growth from it.
    let baseSize = Atomic<Int>(0)
    /// errno of the last failed write or fsync; 0 when the file is healthy. Write commands are
    /// refused (-MISCONF) while it is set.
    let writeErrno = Atomic<Int32>(0)

    // Background fsync (syncLock).
    private let syncLock = ShardLock()
    /// Monotonic ns when the running background fsync began; 0 when none runs.
    let fsyncStartedNs = Atomic<UInt64>(0)
    let delayedFsyncs = Atomic<Int>(0)
    /// Fault injection: each background fsync takes this much longer (a slow disk).
    public let slowFsyncMillisecondsForTesting = Atomic<Int>(0)
    /// fsyncs done (Sesame's INFO field aof_fsyncs): with `always`, records per fsync shows the
    /// group commit at work.
    let fsyncs = Atomic<Int>(0)

    // Rewrite.
    let rewriteInProgress = Atomic<Bool>(false)
    let rewriteScheduled = Atomic<Bool>(false)
    let lastRewriteOK = Atomic<Bool>(true)
    let lastRewriteSeconds = Atomic<Int>(-1)
    let rewrites = Atomic<Int>(0)
    /// How long the last rewrite held every shard lock (the snapshot) and the file lock (the
    /// switch), in microseconds: what a rewrite costs the loops.
    let snapshotPauseMicros = Atomic<Int>(0)
    let switchPauseMicros = Atomic<Int>(0)
    /// Unix seconds of the last successful rewrite or startup load (LASTSAVE).
    let lastSave = Atomic<Int>(0)
    let loadedKeys = Atomic<Int>(0)
    let loadedOnce = Atomic<Bool>(false)

    private let cronRunning = Atomic<Bool>(false)
    private var cronThread: pthread_t? = nil

    init(configuration: Configuration, log: Logger) {
        directory = configuration.dir
        fileName = configuration.appendFilename
        loadTruncated = configuration.aofLoadTruncated
        fsyncPolicy.store(configuration.appendFsync.rawValue, ordering: .relaxed)
        autoRewritePercentage.store(configuration.autoAOFRewritePercentage, ordering: .relaxed)
        autoRewriteMinSize.store(configuration.autoAOFRewriteMinSize, ordering: .relaxed)
        self.log = log
    }

    public var path: String { directory + "/" + fileName }
    var policy: AppendFsync { AppendFsync(rawValue: fsyncPolicy.load(ordering: .relaxed)) ?? .everysec }

    // MARK: - Appending (caller holds the shard locks of the keys the record names)

    /// Appends one record for database `db`.
    func append(db: Int, _ record: UnsafeRawBufferPointer) {
        bufferLock.lock()
        main.append(db: db, record)
        rewriteStream?.append(db: db, record)
        appendedSeq.wrappingAdd(1, ordering: .releasing)
        bufferLock.unlock()
    }

    func append(db: Int, _ record: AOFRecord) { record.bytes.withUnsafeBytes { append(db: db, $0) } }

    func append(db: Int, command: AOFCommand) {
        bufferLock.lock()
        main.append(db: db, command: command)
        rewriteStream?.append(db: db, command: command)
        appendedSeq.wrappingAdd(1, ordering: .releasing)
        bufferLock.unlock()
    }

    /// A command logged as sent, encoded straight into the streams (no record buffer): the
    /// common case (HSET, SADD, DEL, ...) costs no allocation beyond the streams' growth.
    func append(db: Int, arguments args: Arguments) {
        bufferLock.lock()
        main.append(db: db, arguments: args)
        rewriteStream?.append(db: db, arguments: args)
        appendedSeq.wrappingAdd(1, ordering: .releasing)
        bufferLock.unlock()
    }

    /// A transaction's records as one MULTI ... EXEC unit, contiguous in the file.
    func appendTransaction(_ records: [(db: Int, bytes: [UInt8])]) {
        guard let first = records.first else { return }
        var multi = AOFRecord(); multi.command("MULTI", [])
        var exec = AOFRecord(); exec.command("EXEC", [])
        bufferLock.lock()
        for i in 0..<2 {
            func emit(_ s: inout AOFStream) {
                multi.bytes.withUnsafeBytes { s.append(db: first.db, $0) }
                for r in records { r.bytes.withUnsafeBytes { s.append(db: r.db, $0) } }
                let db = s.db
                exec.bytes.withUnsafeBytes { s.append(db: db, $0) }
            }
            if i == 0 { emit(&main) } else if rewriteStream != nil { emit(&rewriteStream!) }
        }
        appendedSeq.wrappingAdd(1, ordering: .releasing)
        bufferLock.unlock()
    }

    // MARK: - Writing and fsync

    /// True when replies of this loop turn must wait for an fsync (appendfsync always with
    /// records not yet on disk).
    @inline(__always) var repliesWaitForSync: Bool {
        enabled.load(ordering: .relaxed) && fsyncPolicy.load(ordering: .relaxed) == AppendFsync.always.rawValue
            && appendedSeq.load(ordering: .acquiring) > syncedSeq.load(ordering: .acquiring)
    }

    /// Called by each event loop at the end of a turn (everysec / no): write what is buffered,
    /// as Redis does in beforeSleep, so a crash of the process alone loses nothing written.
    @inline(__always) func loopTurnEnded() {
        guard enabled.load(ordering: .relaxed),
              appendedSeq.load(ordering: .acquiring) > writtenSeq.load(ordering: .acquiring) else { return }
        if policy == .everysec {
            // Redis's rule: while the background fsync runs, a write(2) to the same file can
            // block behind it, so postpone writing (the bytes stay buffered, the cron thread
            // writes them after the fsync); once the fsync is more than 2 s late, wait for it
            // rather than letting the loss window grow.
            let started = fsyncStartedNs.load(ordering: .acquiring)
            if started != 0 {
                if monotonicNanoseconds() - started < 2_000_000_000 { return }
                delayedFsyncs.wrappingAdd(1, ordering: .relaxed)
                syncLock.lock(); syncLock.unlock()
            }
        }
        fileLock.lock()
        _ = writeBuffered()
        fileLock.unlock()
    }

    /// Group commit for `always`: one write + fsync covering every record appended so far, by
    /// whichever loop gets here first; the others find their records already synced. Returns
    /// false when the records could not be made durable (their writes must not be acknowledged).
    func syncForReplies() -> Bool {
        let target = appendedSeq.load(ordering: .acquiring)
        if syncedSeq.load(ordering: .acquiring) >= target { return true }
        fileLock.lock()
        defer { fileLock.unlock() }
        if syncedSeq.load(ordering: .acquiring) >= target { return true }
        if fd < 0 { return !enabled.load(ordering: .relaxed) || rewriteInProgress.load(ordering: .relaxed) }
        guard writeBuffered() else { return false }
        return fsyncLocked()
    }

    /// Writes the stream's pending bytes (fileLock held). False on a write error, after which
    /// the bytes stay queued for the next attempt and `writeErrno` is set.
    private func writeBuffered() -> Bool {
        guard fd >= 0 else { return false }
        bufferLock.lock()
        var chunk: [UInt8] = []
        swap(&chunk, &main.bytes)
        let seq = appendedSeq.load(ordering: .relaxed)
        bufferLock.unlock()
        if unwritten.isEmpty {
            unwritten = chunk
        } else {
            unwritten.append(contentsOf: chunk)
        }
        unwrittenSeq = seq
        if unwritten.isEmpty {
            writtenSeq.store(seq, ordering: .releasing)
            return writeErrno.load(ordering: .relaxed) == 0 || recovered()
        }
        let sizeBefore = currentSize.load(ordering: .relaxed)
        var done = 0
        var failure: Int32 = 0
        unwritten.withUnsafeBytes { p in
            while done < p.count {
                let n = write(fd, p.baseAddress! + done, p.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 { failure = ENOSPC; return }
                done += n
            }
        }
        if failure == 0 {
            currentSize.store(sizeBefore + done, ordering: .relaxed)
            unwritten.removeAll(keepingCapacity: unwritten.count < 1 << 20)
            writtenSeq.store(unwrittenSeq, ordering: .releasing)
            return writeErrno.load(ordering: .relaxed) == 0 || recovered()
        }
        // A partial record must not stay in the file: cut back to the last whole write, as
        // Redis does; if even that fails, keep what was written and queue only the rest.
        if done > 0 {
            if ftruncate(fd, off_t(sizeBefore)) == 0 {
                done = 0
            } else {
                currentSize.store(sizeBefore + done, ordering: .relaxed)
                unwritten.removeFirst(done)
            }
        }
        if writeErrno.exchange(failure, ordering: .relaxed) == 0 {
            log.warning("Error writing to the AOF file: \(String(cString: strerror(failure)))")
        }
        return false
    }

    private func recovered() -> Bool {
        if writeErrno.exchange(0, ordering: .relaxed) != 0 {
            log.warning("AOF write error looks solved. Sesame can write again.")
        }
        return true
    }

    /// fsync of the current descriptor (fileLock held).
    private func fsyncLocked() -> Bool {
        let seq = writtenSeq.load(ordering: .acquiring)
        if fdatasync(fd) != 0 {
            let e = errno
            if writeErrno.exchange(e, ordering: .relaxed) == 0 {
                log.warning("Error syncing the AOF file: \(String(cString: strerror(e)))")
            }
            return false
        }
        syncedSeq.store(seq, ordering: .releasing)
        fsyncs.wrappingAdd(1, ordering: .relaxed)
        return true
    }

    /// Writes and fsyncs everything appended so far (SHUTDOWN, SIGTERM, CONFIG SET appendonly no).
    @discardableResult
    public func flushAndSync() -> Bool {
        syncLock.lock(); defer { syncLock.unlock() }
        fileLock.lock(); defer { fileLock.unlock() }
        guard fd >= 0 else { return true }
        guard writeBuffered() else { return false }
        return fsyncLocked()
    }

    /// The background fsync of `everysec`: the write happens under fileLock, the fsync only
    /// under syncLock so loops can keep writing while it runs. syncLock is taken first, so the
    /// rewrite's switch cannot close the descriptor between reading and fsyncing it.
    private func backgroundFsync() {
        syncLock.lock(); defer { syncLock.unlock() }
        fileLock.lock()
        _ = writeBuffered()
        let target = writtenSeq.load(ordering: .acquiring)
        let descriptor = fd
        fileLock.unlock()
        guard descriptor >= 0, target > syncedSeq.load(ordering: .acquiring) || writeErrno.load(ordering: .relaxed) != 0 else { return }
        fsyncStartedNs.store(monotonicNanoseconds(), ordering: .releasing)
        let delay = slowFsyncMillisecondsForTesting.load(ordering: .relaxed)
        if delay > 0 { usleep(UInt32(delay) * 1000) }
        let rc = fdatasync(descriptor)
        let e = errno
        fsyncStartedNs.store(0, ordering: .releasing)
        if rc == 0 {
            fsyncs.wrappingAdd(1, ordering: .relaxed)
            var cur = syncedSeq.load(ordering: .relaxed)
            while cur < target {
                let (exchanged, original) = syncedSeq.compareExchange(expected: cur, desired: target, ordering: .acquiringAndReleasing)
                if exchanged { break }
                cur = original
            }
        } else if writeErrno.exchange(e, ordering: .relaxed) == 0 {
            log.warning("Error syncing the AOF file: \(String(cString: strerror(e)))")
        }
    }

    // MARK: - Lifecycle

    /// Opens (creating if needed) the file for appending and starts the background thread.
    func open() throws {
        let descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw AOFLoadError(description: "Can't open the append-only file \(path): \(String(cString: strerror(errno)))")
        }
        // A file size limit (RLIMIT_FSIZE) must turn into EFBIG write errors, not a killed server.
        signal(SIGXFSZ, SIG_IGN)
        var st = stat()
        fstat(descriptor, &st)
        fileLock.withLock {
            fd = descriptor
            currentSize.store(Int(st.st_size), ordering: .relaxed)
            baseSize.store(Int(st.st_size), ordering: .relaxed)
        }
        enabled.store(true, ordering: .releasing)
        startCron()
    }

    /// Flushes, fsyncs and closes; stops the background thread. Idempotent.
    public func close() {
        stopCron()
        guard enabled.exchange(false, ordering: .acquiringAndReleasing) else { return }
        while rewriteInProgress.load(ordering: .acquiring) { usleep(1000) }
        flushAndSync()
        fileLock.withLock {
            if fd >= 0 { Glibc.close(fd); fd = -1 }
        }
    }

    func startCron() {
        guard !cronRunning.exchange(true, ordering: .acquiringAndReleasing) else { return }
        do {
            cronThread = try Sys.startThread { self.cron() }
        } catch {
            cronRunning.store(false, ordering: .relaxed)
        }
    }

    private func stopCron() {
        guard cronRunning.exchange(false, ordering: .acquiringAndReleasing) else { return }
        if let t = cronThread { pthread_join(t, nil); cronThread = nil }
    }

    /// Once per 100 ms: the everysec fsync (each second), retries after write errors, and the
    /// automatic rewrite check.
    private func cron() {
        var lastFsync = monotonicNanoseconds()
        var lastRetry = lastFsync
        while cronRunning.load(ordering: .acquiring) {
            usleep(100_000)
            guard enabled.load(ordering: .relaxed) else { continue }
            let now = monotonicNanoseconds()
            switch policy {
            case .everysec:
                if now - lastFsync >= 1_000_000_000 {
                    lastFsync = now
                    backgroundFsync()
                }
            case .no:
                loopTurnEnded()
            case .always:
                if writeErrno.load(ordering: .relaxed) != 0 && now - lastRetry >= 1_000_000_000 {
                    lastRetry = now
                    fileLock.lock()
                    if writeBuffered() { _ = fsyncLocked() }
                    fileLock.unlock()
                }
            }
            if writeErrno.load(ordering: .relaxed) != 0 && policy != .always && now - lastRetry >= 1_000_000_000 {
                lastRetry = now
                flushAndSync()
            }
            autoRewriteIfDue()
        }
    }

    private func autoRewriteIfDue() {
        let percentage = autoRewritePercentage.load(ordering: .relaxed)
        guard percentage > 0, !rewriteInProgress.load(ordering: .relaxed), let keyspace = rewriteKeyspace else { return }
        let size = currentSize.load(ordering: .relaxed)
        let base = max(baseSize.load(ordering: .relaxed), 1)
        guard size > autoRewriteMinSize.load(ordering: .relaxed), (size - base) * 100 / base >= percentage else { return }
        log.notice("Starting automatic rewriting of AOF on \((size - base) * 100 / base)% growth")
        _ = startRewrite(keyspace)
    }

    /// Set when the server starts logging, for the automatic rewrite.
    var rewriteKeyspace: Keyspace? { rewriteKeyspaceBox.withLock { $0 } }
    let rewriteKeyspaceBox = Locked<Keyspace?>(nil)

    // MARK: - Rewrite support (AOFRewriter drives these)

    /// Called with every shard locked: from now on records also go to the rewrite stream,
    /// which starts where the snapshot taken under the same locks ends.
    func beginRewriteCapture() {
        bufferLock.withLock { rewriteStream = AOFStream() }
    }

    /// Takes what the rewrite stream collected so far (for writing it while the rewrite runs).
    func drainRewriteStream() -> [UInt8] {
        bufferLock.withLock {
            var out: [UInt8] = []
            if rewriteStream != nil { swap(&out, &rewriteStream!.bytes) }
            return out
        }
    }

    func abandonRewrite() {
        bufferLock.withLock { rewriteStream = nil }
    }

    /// The switch: with file writers stopped (appends go on), the rewrite stream so far goes to
    /// the new file, which is fsynced and renamed over the old one; what was appended meanwhile
    /// becomes the main stream's pending bytes, written to the new file by the usual path.
    /// `tempFD` is the new file's descriptor, positioned at its end. Returns false on failure
    /// (the old file stays in use and nothing is lost: the main stream was never cut).
    func finishRewrite(tempFD: Int32, tempPath: String, writtenBytes: Int) -> Bool {
        syncLock.lock(); defer { syncLock.unlock() }
        fileLock.lock(); defer { fileLock.unlock() }
        let pauseStarted = monotonicNanoseconds()
        defer { switchPauseMicros.store(Int((monotonicNanoseconds() - pauseStarted) / 1000), ordering: .relaxed) }
        let (rest, seq) = bufferLock.withLock { () -> ([UInt8], UInt64) in
            var out: [UInt8] = []
            if rewriteStream != nil { swap(&out, &rewriteStream!.bytes) }
            return (out, appendedSeq.load(ordering: .relaxed))
        }
        guard rest.withUnsafeBytes({ writeAll(tempFD, $0) }), fdatasync(tempFD) == 0,
              rename(tempPath, path) == 0 else {
            let e = errno
            abandonRewrite()
            log.warning("Background AOF rewrite failed to finish: \(String(cString: strerror(e)))")
            return false
        }
        fsyncDirectory()
        bufferLock.withLock {
            let stream = rewriteStream ?? AOFStream()
            rewriteStream = nil
            main = stream
        }
        // The old file is now unlinked: its last close frees all its blocks, which takes tens
        // of milliseconds for a large file, so it happens on a thread of its own (Redis's bio
        // close job) rather than while writers wait.
        if fd >= 0 { closeInBackground(fd) }
        // With appendonly off (BGREWRITEAOF as a one-off dump) nothing appends to the new file.
        if enabled.load(ordering: .acquiring) { fd = tempFD } else { Glibc.close(tempFD); fd = -1 }
        unwritten = []
        let size = writtenBytes + rest.count
        currentSize.store(size, ordering: .relaxed)
        baseSize.store(size, ordering: .relaxed)
        writtenSeq.store(seq, ordering: .releasing)
        syncedSeq.store(seq, ordering: .releasing)
        _ = recovered()
        return true
    }

    private func fsyncDirectory() {
        let d = Glibc.open(directory, O_RDONLY | O_CLOEXEC)
        if d >= 0 { fsync(d); Glibc.close(d) }
    }

    /// Logging starts with the rewrite that creates the file (CONFIG SET appendonly yes).
    func enableForRewrite() { enabled.store(true, ordering: .releasing) }
}

/// close(2) on a detached thread.
func closeInBackground(_ fd: Int32) {
    do {
        try Sys.startThread(detached: true) { _ = Glibc.close(fd) }
    } catch {
        Glibc.close(fd)
    }
}

/// write(2) until done or an error; false on error (errno set).
func writeAll(_ fd: Int32, _ p: UnsafeRawBufferPointer) -> Bool {
    var done = 0
    while done < p.count {
        let n = write(fd, p.baseAddress! + done, p.count - done)
        if n < 0 {
            if errno == EINTR { continue }
            return false
        }
        if n == 0 { errno = ENOSPC; return false }
        done += n
    }
    return true
}
