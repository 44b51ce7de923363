import Foundation

// SesameBenchCore: the benchmark harness behind `sesame-bench`. It measures any RESP server,
// so it does not depend on Sesame.
//
// Layout:
//   System/     syscall wrappers (one errno policy), pthreads, /proc readers
//   RESP/       command encoder, incremental reply parser, control client
//   Stats/      log-linear histogram, PRNGs, CSPRNG session ids, Zipf sampler, weighted mix
//   Engine/     the load loop (threads x non-blocking connections x poll), closed and open loop
//   Workloads/  ops, session (data model + table + preload), ping/get traffic for expiry
//   CLI/        options, runner (rounds across servers), console
//   Report/     result model with medians and ratios, tables, JSON, SVG

public enum SesameBench {
    /// Entry point for the executable: parses `arguments` (without the program name), runs,
    /// prints tables to stdout, writes --json/--svg. Returns the process exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        if arguments.first == "noise" { return NoiseProbe.main(Array(arguments.dropFirst())) }
        let options: BenchOptions
        do {
            options = try BenchOptions.parse(arguments)
        } catch is HelpRequested {
            Console.writeStdout(BenchOptions.usage + "\n")
            return 0
        } catch {
            Console.writeStderr("sesame-bench: \(error)\n")
            return 2
        }
        let console = Console(showProgress: options.progress ?? Sys.stderrIsTerminal, quiet: options.quiet)
        do {
            let report = try BenchRunner.run(options, commandLine: ["sesame-bench"] + arguments, console: console)
            Console.writeStdout(ReportRenderer.render(report, format: options.format))
            if let path = options.jsonPath {
                try ReportRenderer.json(report).write(to: URL(fileURLWithPath: path))
                console.info("wrote \(path)")
            }
            if let path = options.svgPath {
                try SVGChart.chart(for: report).write(toFile: path, atomically: true, encoding: .utf8)
                console.info("wrote \(path)")
            }
            let measured = !report.runs.isEmpty || !report.memory.isEmpty || !report.expiry.isEmpty
                || (report.workload == "migrate" && report.unavailable.isEmpty)
            return measured ? 0 : 1
        } catch {
            console.clearProgress()
            Console.writeStderr("sesame-bench: \(error)\n")
            return 1
        }
    }
}
