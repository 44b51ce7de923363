// The libFuzzer target (Tests/Fuzz) run for a minute on CI: CI=true, or SESAME_FUZZ_SECONDS=N
// locally. It is built outside SwiftPM (-sanitize=fuzzer,address needs compiler flags that
// Package.swift must not carry), so this test shells out to Tests/Fuzz/run.sh, which builds it
// when needed, runs it with the committed seed corpus, and exits non-zero on a crash, a
// sanitizer report or a timeout (the offending input is left in .build-fuzz/).

import Foundation
import Testing

@Suite("Fuzzing (libFuzzer + ASan on the parser and dispatch)")
struct FuzzSmokeTests {
    static var seconds: Int? {
        if let s = ProcessInfo.processInfo.environment["SESAME_FUZZ_SECONDS"], let n = Int(s) { return n > 0 ? n : nil }
        return ExternalTools.isCI ? 60 : nil
    }

    @Test("the request path survives a fuzzing run (60 s on CI) with no crash, leak-free of sanitizer reports")
    func fuzzRun() throws {
        guard let seconds = FuzzSmokeTests.seconds else {
            print("skipped: fuzzing runs with CI=true or SESAME_FUZZ_SECONDS=N (see Tests/Fuzz/README.md)")
            return
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = [ClientMatrix.packageRoot + "/Tests/Fuzz/run.sh", "\(seconds)"]
        p.currentDirectoryURL = URL(fileURLWithPath: ClientMatrix.packageRoot)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let log = String(decoding: data, as: UTF8.self)
        let executed = log.split(separator: "\n").last { $0.hasPrefix("stat::number_of_executed_units:") }
            .flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        print("fuzzing: \(executed) inputs in \(seconds) s, exit \(p.terminationStatus)")
        #expect(p.terminationStatus == 0, "fuzzer failed:\n\(log.suffix(4000))")
        #expect(executed > 0, "the fuzzer ran no inputs:\n\(log.suffix(4000))")
        #expect(!log.contains("ERROR: AddressSanitizer") && !log.contains("ERROR: libFuzzer"))
    }
}
