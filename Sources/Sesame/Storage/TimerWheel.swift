// Active expiry: a hierarchical timer wheel (Linux's classic cascading design) per shard.
//
// Guarantees: a record is handed back no later than the first `advance` whose time reaches
// its tick (tick = `tickMilliseconds`, 10 ms by default), so a key disappears within one tick
// of its deadline. Inserting is O(1). Records are never removed early: a key whose TTL moved
// later keeps its old record, and whoever drains the wheel re-checks the key's current deadline
// and re-inserts (lazy cancellation). The session pattern, EXPIRE on every read, therefore never
// touches the wheel at all; see Shard.expire.
//
// Levels: 256 slots of one tick, then three levels of 64 slots each covering 256, 16384 and
// 1,048,576 ticks (about 2.5 s, 2.7 min, 2.9 h, 7.7 days at 10 ms). Records further out park in
// the last level and are re-placed when their slot cascades.

public struct WheelRecord: Sendable {
    public var db: Int32
    public var at: Int64
    public var key: Key
}

public struct TimerWheel: Sendable {
    public let tickMilliseconds: Int64
    /// The next tick to process; every record due before it has been handed out.
    private(set) var nextTick: Int64
    private var level0: [[WheelRecord]]
    private var levels: [[[WheelRecord]]]  // levels 1...3, 64 slots each
    private var levelCounts: [Int] = [0, 0, 0, 0]
    public private(set) var count = 0

    private static let l0Bits: Int64 = 8
    private static let lnBits: Int64 = 6
    private static let l0Size = 1 << 8
    private static let lnSize = 1 << 6

    public init(now: Int64, tickMilliseconds: Int64 = 10) {
        self.tickMilliseconds = tickMilliseconds
        self.nextTick = now / tickMilliseconds
        level0 = Array(repeating: [], count: TimerWheel.l0Size)
        levels = Array(repeating: Array(repeating: [], count: TimerWheel.lnSize), count: 3)
    }

    /// The tick at which a deadline is due (rounded up, so the record never fires early).
    @inline(__always) func tick(of at: Int64) -> Int64 {
        (at + tickMilliseconds - 1) / tickMilliseconds
    }

    public mutating func insert(_ record: WheelRecord) {
        place(record)
        count += 1
    }

    private mutating func place(_ record: WheelRecord) {
        let t = tick(of: record.at)
        let delta = t - nextTick
        if delta < Int64(TimerWheel.l0Size) {
            // Past-due records go in the slot processed next.
            let slot = Int((delta < 0 ? nextTick : t) & 0xFF)
            level0[slot].append(record)
            levelCounts[0] += 1
            return
        }
        var shift = TimerWheel.l0Bits
        for level in 0..<3 {
            let span = Int64(1) << (shift + TimerWheel.lnBits)
            if delta < span || level == 2 {
                let target = delta < span ? t : nextTick + span - 1
                let slot = Int((target >> shift) & 0x3F)
                levels[level][slot].append(record)
                levelCounts[level + 1] += 1
                return
            }
            shift += TimerWheel.lnBits
        }
    }

    /// Moves the wheel to `now`, appending every record that fell due to `due`. Empty stretches
    /// are skipped a cascade boundary at a time, so a clock that jumps days costs little.
    public mutating func advance(to now: Int64, into due: inout [WheelRecord]) {
        let target = now / tickMilliseconds
        while nextTick <= target {
            if count == 0 {
                nextTick = target + 1
                return
            }
            let index = Int(nextTick & 0xFF)
            if index == 0 { cascade() }
            if levelCounts[0] == 0 && index != 0 {
                // Nothing in level 0: jump to the next cascade boundary (or past the target).
                let boundary = (nextTick | 0xFF) + 1
                nextTick = min(boundary, target + 1)
                continue
            }
            if !level0[index].isEmpty {
                let fired = level0[index]
                level0[index] = []
                levelCounts[0] -= fired.count
                count -= fired.count
                due.append(contentsOf: fired)
            }
            nextTick += 1
        }
    }

    /// At a level-0 wrap, re-place the records of the next slot of each higher level whose
    /// own index wrapped too.
    private mutating func cascade() {
        var shift = TimerWheel.l0Bits
        for level in 0..<3 {
            let slot = Int((nextTick >> shift) & 0x3F)
            let records = levels[level][slot]
            levels[level][slot] = []
            levelCounts[level + 1] -= records.count
            for r in records { place(r) }
            if slot != 0 { return }
            shift += TimerWheel.lnBits
        }
    }

    /// Milliseconds until the next tick boundary, for the event loop's poll timeout.
    public func millisecondsToNextTick(now: Int64) -> Int64 {
        if count == 0 { return Int64.max }
        return max(0, nextTick * tickMilliseconds - now)
    }
}
