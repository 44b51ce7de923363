// sesame-bench: arguments -> SesameBenchCore. All logic lives in the library.
#if canImport(Glibc)
import Glibc
#endif
import SesameBenchCore

exit(SesameBench.main(Array(CommandLine.arguments.dropFirst())))
