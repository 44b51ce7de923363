// A workload produces logical operations. One operation is one or more commands written
// together (pipelined) whose replies all arrive before it counts as done; its latency runs from
// its start (send time in a closed loop, intended send time in an open loop) to its last reply.
//
// An operation may take more than one round trip: when its last reply arrives, the generator
// may append follow-up commands (chosen from that reply) to the same connection's output. The
// operation then stays in flight until their replies arrive too, and counts once, with its
// latency running from the first send to the last reply (LoadEngine; the cluster engine does
// not support follow-ups and refuses workloads that declare them).

public protocol OperationGenerator {
    /// Appends the commands of one operation to `buffer`; returns the operation's type (an index
    /// into the workload's `operationNames`) and how many replies it will produce.
    mutating func encodeNext(into buffer: inout CommandBuffer) -> (type: Int, replies: Int)
    /// Sees the raw last reply of each operation (of each round trip, when it has follow-ups),
    /// on the worker thread that encoded it, for workloads whose later commands depend on what
    /// the server answered (a server-chosen session ID, a session's absoluteExpiry). It may
    /// append follow-up commands to `followUp` and return how many replies they produce; 0 ends
    /// the operation. Only workloads with `sendsFollowUps` may return more than 0. The default
    /// ignores the reply and returns 0.
    mutating func observeLastReply(type: Int, _ reply: UnsafeRawBufferPointer, followUp: inout CommandBuffer) -> Int
}

extension OperationGenerator {
    @inline(__always) public mutating func observeLastReply(type: Int, _ reply: UnsafeRawBufferPointer,
                                                             followUp: inout CommandBuffer) -> Int { 0 }
}

public protocol Workload: Sendable {
    associatedtype Generator: OperationGenerator
    /// Names of the operation types, reported separately.
    var operationNames: [String] { get }
    /// True when generators may send follow-up commands (`observeLastReply` returning > 0):
    /// engines that cannot carry an operation over several round trips refuse such workloads.
    var sendsFollowUps: Bool { get }
    /// One generator per worker thread (never shared across threads).
    func makeGenerator(worker: Int, seed: UInt64) -> Generator
}

extension Workload {
    public var sendsFollowUps: Bool { false }
}
