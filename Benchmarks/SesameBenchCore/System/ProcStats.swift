#if canImport(Glibc)
import Glibc
#endif

// What the harness reads about a server process from /proc: CPU time of all its threads
// (utime + stime from /proc/PID/task/*/stat, in clock ticks) and resident memory (VmRSS).
// Server CPU time per operation is the key metric on a box where client and server share cores:
// throughput there mostly measures the client.

public enum ProcStats {
    public static let ticksPerSecond: Double = {
        let t = sysconf(Int32(_SC_CLK_TCK))
        return t > 0 ? Double(t) : 100
    }()

    /// utime + stime (clock ticks) from one stat line; the command name may contain spaces and
    /// parentheses, so fields are counted after the last ')'.
    public static func cpuTicks(statLine: [UInt8]) -> Int? {
        guard let close = statLine.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // Fields after ") ": state(3) ppid(4) ... utime(14) stime(15).
        var fields: [Int] = []
        var index = close + 1
        var fieldNumber = 2
        while index < statLine.count && fieldNumber < 15 {
            while index < statLine.count && statLine[index] == UInt8(ascii: " ") { index += 1 }
            let start = index
            while index < statLine.count && statLine[index] != UInt8(ascii: " ") { index += 1 }
            fieldNumber += 1
            if fieldNumber == 14 || fieldNumber == 15 {
                var value = 0
                for byte in statLine[start..<index] {
                    guard byte >= 48 && byte <= 57 else { return nil }
                    value = value * 10 + Int(byte - 48)
                }
                fields.append(value)
            }
        }
        guard fields.count == 2 else { return nil }
        return fields[0] + fields[1]
    }

    /// CPU seconds used so far by all live threads of `pid`, or nil if the process is gone.
    public static func cpuSeconds(pid: Int32) -> Double? {
        let tasks = Sys.listDirectory("/proc/\(pid)/task")
        var total = 0
        var seen = 0
        for task in tasks {
            guard let line = Sys.readFile("/proc/\(pid)/task/\(task)/stat", limit: 4096),
                  let ticks = cpuTicks(statLine: line) else { continue }
            total += ticks
            seen += 1
        }
        if seen == 0 {
            guard let line = Sys.readFile("/proc/\(pid)/stat", limit: 4096), let ticks = cpuTicks(statLine: line) else {
                return nil
            }
            total = ticks
        }
        return Double(total) / ticksPerSecond
    }

    /// VmRSS of `pid` in bytes, or nil.
    public static func residentBytes(pid: Int32) -> Int? {
        guard let status = Sys.readFile("/proc/\(pid)/status") else { return nil }
        let text = String(decoding: status, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let digits = line.dropFirst(6).filter { $0.isNumber }
            if let kib = Int(digits) { return kib * 1024 }
        }
        return nil
    }

    public static func isAlive(pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// "model name" of the first CPU, for reports.
    public static func cpuModel() -> String {
        guard let info = Sys.readFile("/proc/cpuinfo", limit: 1 << 16) else { return "unknown" }
        let text = String(decoding: info, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmedOf(" \t")
            }
        }
        return "unknown"
    }
}

extension StringProtocol {
    func trimmedOf(_ set: String) -> String {
        var slice = self[...]
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
