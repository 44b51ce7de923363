// Compaction (BGREWRITEAOF, SAVE/BGSAVE, automatic rewrite): a new file holding the live data
// as the fewest commands, built without stopping the server.
//
// Redis forks; Sesame takes a copy-on-write snapshot instead. With every shard locked (a few
// microseconds: 256 lock acquisitions and 256 array retains), it copies each shard's tables
// (Swift collections are copy-on-write, so this copies nothing yet) and starts the rewrite
// stream, which from that instant receives every record the main stream does. The cut is
// exact: appends happen under the shard locks of their keys, all held at the cut. A thread
// then writes the snapshot to a temporary file (a shard table written after the cut pays one
// copy of that table on its first write, as a forked Redis's pages do), appends the rewrite
// stream, fsyncs and renames it over the old file (AppendOnlyFile.finishRewrite).

#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Carries the snapshot to the rewrite thread.
private final class RewriteJob: @unchecked Sendable {
    let aof: AppendOnlyFile
    let snapshot: [[KeyTable]]
    let now: Int64
    let databases: Int
    init(aof: AppendOnlyFile, snapshot: [[KeyTable]], now: Int64, databases: Int) {
        self.aof = aof
        self.snapshot = snapshot
        self.now = now
        self.databases = databases
    }
}

/// Buffered writes of RESP commands to the temporary file.
private struct RewriteWriter {
    let fd: Int32
    var buffer = AOFRecord()
    var written = 0
    var failed: Int32 = 0

    init(fd: Int32) { self.fd = fd; buffer.bytes.reserveCapacity(1 << 16) }

    mutating func flushIfFull() { if buffer.bytes.count >= 1 << 16 { flush() } }

    mutating func flush() {
        guard failed == 0, !buffer.bytes.isEmpty else { buffer.bytes.removeAll(keepingCapacity: true); return }
        if buffer.bytes.withUnsafeBytes({ writeAll(fd, $0) }) {
            written += buffer.bytes.count
        } else {
            failed = errno
        }
        buffer.bytes.removeAll(keepingCapacity: true)
    }

    mutating func raw(_ bytes: [UInt8]) {
        flush()
        guard failed == 0, !bytes.isEmpty else { return }
        if bytes.withUnsafeBytes({ writeAll(fd, $0) }) { written += bytes.count } else { failed = errno }
    }
}

/// Elements per HSET / SADD in a rewritten file (Redis's AOF_REWRITE_ITEMS_PER_CMD).
private let itemsPerCommand = 64

extension AppendOnlyFile {
    /// Starts a background rewrite of the live data; false when one is already running.
    /// `enabling`: logging starts at the snapshot (CONFIG SET appendonly yes).
    @discardableResult
    func startRewrite(_ keyspace: Keyspace, enabling: Bool = false) -> Bool {
        guard !rewriteInProgress.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        rewriteScheduled.store(false, ordering: .relaxed)
        var snapshot: [[KeyTable]] = []
        let now = keyspace.clock.nowMilliseconds()
        let pauseStarted = monotonicNanoseconds()
        keyspace.withAllShards {
            if enabling { enableForRewrite() }
            beginRewriteCapture()
            snapshot = keyspace.shards.map { $0.tables.snapshot }
        }
        snapshotPauseMicros.store(Int((monotonicNanoseconds() - pauseStarted) / 1000), ordering: .relaxed)
        let job = RewriteJob(aof: self, snapshot: snapshot, now: now, databases: keyspace.databases)
        do {
            try Sys.startThread(detached: true) { job.aof.runRewrite(job) }
        } catch {
            abandonRewrite()
            rewriteInProgress.store(false, ordering: .releasing)
            return false
        }
        log.notice("Background append only file rewriting started")
        return true
    }

    /// Runs a rewrite and waits for it (startup migration, CONFIG SET appendonly yes).
    func rewriteAndWait(_ keyspace: Keyspace, enabling: Bool = false) -> Bool {
        while !startRewrite(keyspace, enabling: enabling) { usleep(1000) }
        while rewriteInProgress.load(ordering: .acquiring) { usleep(1000) }
        return lastRewriteOK.load(ordering: .acquiring)
    }

    fileprivate func runRewrite(_ job: RewriteJob) {
        let started = monotonicNanoseconds()
        let tempPath = directory + "/temp-rewriteaof-\(getpid()).aof"
        let tfd = Glibc.open(tempPath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        var ok = false
        if tfd < 0 {
            log.warning("Opening the temp file for AOF rewrite failed: \(String(cString: strerror(errno)))")
        } else {
            var w = RewriteWriter(fd: tfd)
            for db in 0..<job.databases {
                var selected = false
                for tables in job.snapshot {
                    for (key, entry) in tables[db] where !entry.isExpired(job.now) {
                        if !selected {
                            w.buffer.command("SELECT", [decimalBytes(Int64(db))])
                            selected = true
                        }
                        emit(&w.buffer, key, entry)
                        w.flushIfFull()
                    }
                    if w.failed != 0 { break }
                }
            }
            w.flush()
            if w.failed == 0 && fdatasync(tfd) != 0 { w.failed = errno }
            // Catch up with what arrived meanwhile and fsync it here, outside every lock, so the
            // switch (which pauses file writers) writes and fsyncs only the last few records.
            for pass in 0..<2 where w.failed == 0 {
                var rounds = 0
                while w.failed == 0 && rounds < 20 {
                    let chunk = drainRewriteStream()
                    w.raw(chunk)
                    rounds += 1
                    if chunk.count < 1 << 16 { break }
                }
                if pass == 0 && w.failed == 0 && fdatasync(tfd) != 0 { w.failed = errno }
            }
            if w.failed != 0 {
                log.warning("Error writing the AOF rewrite: \(String(cString: strerror(w.failed)))")
            } else {
                ok = finishRewrite(tempFD: tfd, tempPath: tempPath, writtenBytes: w.written)
            }
            if !ok {
                Glibc.close(tfd)
                unlink(tempPath)
            }
        }
        if !ok { abandonRewrite() }
        lastRewriteOK.store(ok, ordering: .releasing)
        lastRewriteSeconds.store(Int((monotonicNanoseconds() - started) / 1_000_000_000), ordering: .relaxed)
        if ok {
            rewrites.wrappingAdd(1, ordering: .relaxed)
            lastSave.store(Int(time(nil)), ordering: .relaxed)
            log.notice("Background AOF rewrite finished successfully")
        }
        rewriteInProgress.store(false, ordering: .releasing)
    }

    /// One key as the fewest commands that recreate it.
    private func emit(_ out: inout AOFRecord, _ key: Key, _ entry: Entry) {
        switch entry.value {
        case .string(let v):
            out.header(3); out.arg("SET"); out.arg(key.bytes); out.arg(v)
        case .hash(let h):
            var pending: [[UInt8]] = []
            func flushPairs() {
                guard !pending.isEmpty else { return }
                out.header(2 + pending.count); out.arg("HSET"); out.arg(key.bytes)
                for p in pending { out.arg(p) }
                pending.removeAll(keepingCapacity: true)
            }
            h.forEach { f, v in
                pending.append(Array(f)); pending.append(Array(v))
                if pending.count >= itemsPerCommand * 2 { flushPairs() }
            }
            flushPairs()
        case .set(let s):
            var pending: [[UInt8]] = []
            func flushMembers() {
                guard !pending.isEmpty else { return }
                out.header(2 + pending.count); out.arg("SADD"); out.arg(key.bytes)
                for p in pending { out.arg(p) }
                pending.removeAll(keepingCapacity: true)
            }
            s.forEach { m in
                pending.append(Array(m))
                if pending.count >= itemsPerCommand { flushMembers() }
            }
            flushMembers()
        }
        if entry.expireAt != 0 {
            out.command("PEXPIREAT", [key.bytes, decimalBytes(entry.expireAt)])
        }
    }
}
