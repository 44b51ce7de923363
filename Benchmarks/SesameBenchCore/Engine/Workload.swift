// A workload produces logical operations. One operation is one or more commands written
// together (pipelined) whose replies all arrive before it counts as done; its latency runs from
// its start (send time in a closed loop, intended send time in an open loop) to its last reply.

public protocol OperationGenerator {
    /// Appends the commands of one operation to `buffer`; returns the operation's type (an index
    /// into the workload's `operationNames`) and how many replies it will produce.
    mutating func encodeNext(into buffer: inout CommandBuffer) -> (type: Int, replies: Int)
    /// Sees the raw last reply of each operation, on the worker thread that encoded it, for
    /// workloads whose later operations depend on what the server answered (a server-chosen
    /// session ID). The default ignores it.
    mutating func observeLastReply(type: Int, _ reply: UnsafeRawBufferPointer)
}

extension OperationGenerator {
    @inline(__always) public mutating func observeLastReply(type: Int, _ reply: UnsafeRawBufferPointer) {}
}

public protocol Workload: Sendable {
    associatedtype Generator: OperationGenerator
    /// Names of the operation types, reported separately.
    var operationNames: [String] { get }
    /// One generator per worker thread (never shared across threads).
    func makeGenerator(worker: Int, seed: UInt64) -> Generator
}
