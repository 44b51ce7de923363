// sesame-server: arguments -> configuration -> server. Everything else is in the library.

#if canImport(Glibc)
import Glibc
#endif
import Sesame

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "--version" || arguments.first == "-v" {
    print("Sesame server v=\(sesameVersion) (Redis protocol \(redisCompatibleVersion) compatible)")
    exit(0)
}
if arguments.first == "--help" || arguments.first == "-h" {
    print("""
    Usage: sesame-server [/path/to/sesame.conf] [options]
      --port <port>          TCP port (default 6379; 0 picks a free one)
      --bind <addr> [addr]   addresses to listen on (default 127.0.0.1 -::1; '-' = optional)
      --threads <n>          event loop threads (default: number of cores)
      --databases <n>        number of databases (default 16)
      --loglevel <level>     debug | verbose | notice | warning | nothing
      --requirepass <pass>   require AUTH
      --appendonly yes|no    append-only file persistence (default no)
      --appendfsync <mode>   always | everysec | no (default everysec)
      --dir <path>           directory of the append-only file (default .)
      --appendfilename <f>   file name (default appendonly.aof)
    Config file: one `name value` per line, the same names as the flags; flags override it.
    """)
    exit(0)
}

// No fastbins in glibc's allocator. Freed small chunks (a key's node, a short value) then
// merge with their neighbours as they are freed instead of piling up in fastbins until the
// next large allocation merges them all at once (malloc_consolidate): during a mass expiry
// (1M keys in one second) those merges took whole milliseconds inside one event-loop turn.
// Measured with sesame-bench expiry, four interleaved runs each: longest loop iteration
// 1.6-2.4 ms with fastbins, 1.2-1.8 ms without; CPU, memory per session and throughput at
// pipeline 16 unchanged within noise (the request path allocates through the per-thread
// cache, which stays). Only the server executable does this: a process embedding Sesame as a
// test fixture keeps its own allocator settings.
disableAllocatorFastbins()

let configuration: Configuration
do {
    configuration = try Configuration.parse(arguments: arguments)
} catch {
    let message = Array("\n*** FATAL CONFIG FILE ERROR ***\n\(error)\n".utf8)
    _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}

// SIGINT/SIGTERM are taken synchronously by this thread (sigwait); the loops never see them.
var signals = sigset_t()
sigemptyset(&signals)
sigaddset(&signals, SIGINT)
sigaddset(&signals, SIGTERM)
pthread_sigmask(SIG_BLOCK, &signals, nil)
signal(SIGPIPE, SIG_IGN)

if configuration.exitWithParent && !ParentWatcher.start() {
    exit(0)  // the parent is already gone
}

// With DEBUG enabled, time can be moved forward over the wire (tests in other languages).
let clock: any SesameClock = configuration.enableDebugCommand ? OffsetClock() : SystemClock()
let server = SesameServer(configuration: configuration, clock: clock)
server.state.shutdown.install { kill(getpid(), SIGTERM) }
do {
    try server.start()
} catch let error as AOFLoadError {
    server.log.warning(error.description)
    exit(1)
} catch {
    server.log.warning("Failed listening on port \(configuration.port) (tcp), aborting: \(error)")
    exit(1)
}
server.log.notice("Sesame \(sesameVersion) (Redis \(redisCompatibleVersion) protocol) started, pid=\(getpid()), port=\(server.port), threads=\(configuration.threads), bind=\(server.boundAddresses.joined(separator: " "))")
server.log.notice("Ready to accept connections tcp")
// The first line on stdout is machine-readable, for harnesses that start us with --port 0.
let httpField = server.httpPort.map { ",\"httpPort\":\($0)" } ?? ""
let ready = Array("{\"event\":\"ready\",\"port\":\(server.port)\(httpField),\"pid\":\(getpid())}\n".utf8)
_ = ready.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
if let path = configuration.portFile {
    // Written to a temporary name and renamed, so a reader never sees a half-written file.
    let tmp = path + ".tmp"
    if let f = fopen(tmp, "w") {
        fputs("\(server.port)\n", f)
        fclose(f)
        rename(tmp, path)
    } else {
        server.log.warning("Can't write port file \(path)")
    }
}

var received: Int32 = 0
sigwait(&signals, &received)
server.log.warning("Received \(received == SIGINT ? "SIGINT" : "SIGTERM") scheduling shutdown...")
server.stop()
server.log.notice("Sesame is now ready to exit, bye bye...")
exit(0)
