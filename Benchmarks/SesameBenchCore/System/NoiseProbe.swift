import Foundation
#if canImport(Glibc)
import Glibc
#endif

// `sesame-bench noise`: how long this CPU is taken away from a thread that only reads the
// clock. The mass-expiry target allows no event-loop iteration over 1 ms; on a shared or
// virtual machine, interrupts and the hypervisor can take a running thread's CPU for that long
// with no code of its own to blame, and no scheduler statistic shows it (nothing else ran in
// the guest: steal time is counted in 10 ms ticks). Run pinned to the server's CPU, idle and
// with load on the other CPU (Benchmarks/targets.sh, part `noise`), it gives the floor under
// any "longest iteration" figure measured there.

public struct NoiseReport: Sendable, Equatable {
    public var seconds: Double
    public var cpu: Int32
    /// Clock reads: consecutive reads normally differ by tens of nanoseconds.
    public var reads: Int
    /// The longest time between two consecutive clock reads.
    public var longestGapMicros: Double
    public var gapsOver200us: Int
    public var gapsOver1ms: Int
    /// Total length of the gaps over 50 us: time the thread did not get.
    public var lostMillis: Double

    public var line: String {
        "noise: \(String(format: "%.1f", seconds)) s on CPU \(cpu): longest gap \(Format.count(longestGapMicros)) us, "
            + "gaps > 0.2 ms: \(gapsOver200us), > 1 ms: \(gapsOver1ms), time lost in gaps > 50 us: \(String(format: "%.1f", lostMillis)) ms"
    }
}

public enum NoiseProbe {
    /// Spins for `seconds`, reading CLOCK_MONOTONIC, and reports the gaps between reads.
    public static func run(seconds: Double) -> NoiseReport {
        let start = monotonicNanos()
        let end = start &+ UInt64(max(0, seconds) * 1e9)
        var previous = start
        var reads = 0, over200 = 0, over1000 = 0
        var longest: UInt64 = 0, lost: UInt64 = 0
        while true {
            let now = monotonicNanos()
            reads += 1
            let gap = now &- previous
            previous = now
            if gap > 50_000 {
                lost &+= gap
                if gap > 200_000 { over200 += 1 }
                if gap > 1_000_000 { over1000 += 1 }
            }
            if gap > longest { longest = gap }
            if now >= end { break }
        }
        return NoiseReport(seconds: Double(previous &- start) / 1e9, cpu: currentCPU(), reads: reads,
                           longestGapMicros: Double(longest) / 1000, gapsOver200us: over200, gapsOver1ms: over1000,
                           lostMillis: Double(lost) / 1e6)
    }

    /// The CPU this thread last ran on (field 39 of /proc/thread-self/stat; -1 if unreadable):
    /// sched_getcpu is a GNU extension Glibc's module does not export.
    static func currentCPU() -> Int32 {
        guard let text = try? String(contentsOfFile: "/proc/thread-self/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return -1 }
        // Fields after the command name (which may hold spaces) start at field 3.
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 36 ? Int32(fields[36]) ?? -1 : -1
    }

    /// `sesame-bench noise [--duration S]` (default 10 s).
    static func main(_ arguments: [String]) -> Int32 {
        var seconds = 10.0
        var args = arguments[...]
        while let a = args.first {
            args = args.dropFirst()
            switch a {
            case "--duration":
                guard let v = args.first.flatMap(Double.init), v > 0, v <= 3600 else {
                    Console.writeStderr("sesame-bench noise: --duration takes seconds in (0, 3600]\n")
                    return 2
                }
                seconds = v
                args = args.dropFirst()
            case "-h", "--help":
                Console.writeStdout("sesame-bench noise [--duration S]: spin reading the clock for S seconds (10) and report the gaps\n")
                return 0
            default:
                Console.writeStderr("sesame-bench noise: unknown option '\(a)'\n")
                return 2
            }
        }
        Console.writeStdout(run(seconds: seconds).line + "\n")
        return 0
    }
}
