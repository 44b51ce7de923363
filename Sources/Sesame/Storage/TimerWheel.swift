// Active expiry: a hierarchical timer wheel (Linux's classic cascading design) per shard.
//
// Guarantees: a record is handed back no earlier than its deadline and no later than the first
// `advance` whose time reaches the end of the deadline's tick (tick = `tickMilliseconds`, 10 ms
// by default), so a key disappears within one tick of its deadline. Inserting is O(1). Records
// are never removed early: a key whose TTL moved later keeps its old record, and whoever drains
// the wheel re-checks the key's current deadline and re-inserts (lazy cancellation). The session
// pattern, EXPIRE on every read, therefore never touches the wheel at all; see
// Shard.scheduleExpiry.
//
// Levels: 256 slots of one tick, then three levels of 64 slots each covering 256, 16384 and
// 1,048,576 ticks (about 2.5 s, 2.7 min, 2.9 h, 7.7 days at 10 ms). Records further out park in
// the last level and are re-placed when their slot cascades.
//
// Every level keeps an occupancy bitmap, so `advance` goes straight to the next non-empty slot
// or the next cascade that can deliver records, instead of visiting empty ticks: a clock that
// jumps 30 days (a suspended VM, a test's FastForward) costs a few steps per occupied slot, not
// one step per 256 ticks (a million steps per shard for 30 days).

/// A deadline for a key, named by its database and its KeyTable tag rather than by its bytes:
/// 16 bytes, no reference to retain, and a deleted key's bytes are freed at once instead of
/// living on in its record until the deadline. Whoever drains the wheel looks the tag up and
/// acts only on an entry whose `wheelAt` is this record's `at` (Shard.expireDue).
public struct WheelRecord: Sendable {
    public var db: Int32
    public var tag: UInt32
    public var at: Int64
}

public struct TimerWheel: Sendable {
    public let tickMilliseconds: Int64
    /// The next tick to process; every record due before it has been handed out. The cascade
    /// for a tick that is a multiple of 256 runs when that tick is processed.
    private(set) var nextTick: Int64
    private var level0: [[WheelRecord]]
    private var levels: [[[WheelRecord]]]  // levels 1...3, 64 slots each
    /// Bit i of word i/64 is set when level0[i] holds records.
    private var level0Bits: [UInt64] = [0, 0, 0, 0]
    /// Bit i of levelBits[l] is set when levels[l][i] holds records.
    private var levelBits: [UInt64] = [0, 0, 0]
    public private(set) var count = 0
    /// Records of a cascade that `advance` has not re-placed yet (counted in `count`).
    private var cascading: [WheelRecord] = []
    /// The wrap tick whose cascade was collected, so a resumed `advance` does not collect again.
    private var cascadedTick: Int64 = -1
    /// Where the incremental sweep (`sweep(budget:where:)`) resumes: a slot position (level 0's
    /// 256 slots, then levels 1-3, then `cascading`) and an index inside that slot.
    private var sweepSlot = 0
    private var sweepIndex = 0

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

    /// The tick at which a deadline is due, rounded up so the record never fires early. Written
    /// without `at + tick - 1`, which overflows for `PEXPIREAT key 9223372036854775807`.
    @inline(__always) func tick(of at: Int64) -> Int64 {
        let q = at / tickMilliseconds
        return at % tickMilliseconds > 0 ? q + 1 : q
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
            level0Bits[slot >> 6] |= 1 << UInt64(slot & 63)
            return
        }
        var shift = TimerWheel.l0Bits
        for level in 0..<3 {
            let span = Int64(1) << (shift + TimerWheel.lnBits)
            if delta < span || level == 2 {
                let target = delta < span ? t : nextTick + span - 1
                let slot = Int((target >> shift) & 0x3F)
                levels[level][slot].append(record)
                levelBits[level] |= 1 << UInt64(slot)
                return
            }
            shift += TimerWheel.lnBits
        }
    }

    /// Moves the wheel to `now`, appending every record that fell due to `due`. Returns false
    /// when it stopped early, at a cascade, after re-placing `cascadeBudget` records: call again
    /// (soon) to go on. A level cascade re-places every record of a higher-level slot, and a
    /// million deadlines in the same second put ~4,000 records in one slot of each of 256
    /// shards, so an unbudgeted cascade held the event loop (and the shard's lock) for
    /// milliseconds. Records of the cascade not re-placed yet wait in `cascading`; no tick is
    /// processed until they are all placed, so nothing fires early or is skipped, and a record
    /// is late only by the time the remaining calls take.
    @discardableResult
    public mutating func advance(to now: Int64, into due: inout [WheelRecord], cascadeBudget: Int = .max) -> Bool {
        let target = now / tickMilliseconds
        var budget = cascadeBudget
        while nextTick <= target {
            if count == 0 {
                nextTick = target + 1
                return true
            }
            if nextTick & 0xFF == 0 && cascadedTick != nextTick {
                cascadedTick = nextTick
                collectCascade()
            }
            if !cascading.isEmpty {
                while budget > 0, let r = cascading.popLast() {
                    place(r)
                    budget -= 1
                }
                if !cascading.isEmpty { return false }
                cascading = []  // gives back the capacity: 256 shards x 4,000 records is 24 MB
            }
            let index = Int(nextTick & 0xFF)
            if let slot = nextLevel0Slot(from: index) {
                let t = nextTick + Int64(slot - index)
                if t > target {
                    nextTick = target + 1
                    return true
                }
                var fired: [WheelRecord] = []
                swap(&fired, &level0[slot])
                level0Bits[slot >> 6] &= ~(1 << UInt64(slot & 63))
                count -= fired.count
                due.append(contentsOf: fired)
                nextTick = t + 1
            } else {
                nextTick = min(nextCascadeTick(), target + 1)
            }
        }
        return true
    }

    /// Whether an `advance` stopped in the middle of a cascade (see advance).
    public var isCascading: Bool { !cascading.isEmpty }

    /// The first occupied level-0 slot at or after `index` in this rotation.
    @inline(__always)
    private func nextLevel0Slot(from index: Int) -> Int? {
        var word = index >> 6
        var bits = level0Bits[word] & (UInt64.max << UInt64(index & 63))
        while true {
            if bits != 0 { return word << 6 + bits.trailingZeroBitCount }
            word += 1
            if word == 4 { return nil }
            bits = level0Bits[word]
        }
    }

    /// Level 0 holds nothing at or after `nextTick` in this rotation: the earliest tick at which
    /// a cascade can bring records down. Conservative (never later than the true answer): when
    /// unsure it returns the next boundary, and the caller simply looks again from there.
    private func nextCascadeTick() -> Int64 {
        var boundary = (nextTick | 0xFF) + 1
        if level0Bits[0] | level0Bits[1] | level0Bits[2] | level0Bits[3] != 0 { return boundary }
        var shift = TimerWheel.l0Bits
        for level in 0..<3 {
            let index = Int((boundary >> shift) & 0x3F)
            // This level wraps here, so the levels above cascade at this very tick.
            if index == 0 { return boundary }
            let bits = levelBits[level]
            let ahead = bits & (UInt64.max << UInt64(index))
            if ahead != 0 { return boundary + Int64(ahead.trailingZeroBitCount - index) << shift }
            let wrap = boundary + Int64(TimerWheel.lnSize - index) << shift
            // Records in slots behind `index` belong to the next rotation, which starts at `wrap`.
            if bits != 0 { return wrap }
            boundary = wrap
            shift += TimerWheel.lnBits
        }
        return boundary
    }

    /// At a level-0 wrap, takes out the records of the next slot of each higher level whose
    /// own index wrapped too, for `advance` to re-place.
    private mutating func collectCascade() {
        var shift = TimerWheel.l0Bits
        for level in 0..<3 {
            let slot = Int((nextTick >> shift) & 0x3F)
            if levelBits[level] & (1 << UInt64(slot)) != 0 {
                if cascading.isEmpty {
                    swap(&cascading, &levels[level][slot])
                } else {
                    cascading.append(contentsOf: levels[level][slot])
                    levels[level][slot] = []
                }
                levelBits[level] &= ~(1 << UInt64(slot))
            }
            if slot != 0 { return }
            shift += TimerWheel.lnBits
        }
    }

    /// Drops the records `stale` accepts (their key was deleted or its deadline moved), in
    /// place, visiting about `budget` records per call from where the last call stopped; returns
    /// true when this call finished a pass over the whole wheel. See Shard.compactWheel: a
    /// sweep of a shard's whole wheel in one go took ~0.8 ms for 4,000 records, so it is cut in
    /// slices like the deletions. Order inside a slot does not matter (a slot fires or cascades
    /// as a whole), so a stale record is replaced by the slot's last one (O(1)), and records
    /// appended to a slot while a pass is in it are simply visited too.
    /// Slot arrays keep the capacity of their fullest moment, so the sweep also gives back
    /// capacity beyond twice what a slot still holds when it leaves the slot: otherwise a slot
    /// that took minutes of logins (most of them logged out since) would keep room for all of
    /// them until it cascades, half an hour later for session TTLs.
    public mutating func sweep(budget: Int, where stale: (WheelRecord) -> Bool) -> Bool {
        var left = max(budget, 1)
        while left > 0 {
            let start = sweepIndex
            var removed = 0
            var stopped = 0
            let done = withSlot(sweepSlot) { records -> Bool in
                var i = min(start, records.count)
                while i < records.count && left > 0 {
                    left -= 1
                    if stale(records[i]) {
                        records.swapAt(i, records.count - 1)
                        records.removeLast()
                        removed += 1
                    } else {
                        i += 1
                    }
                }
                stopped = i
                guard i >= records.count else { return false }
                if records.isEmpty {
                    records = []
                } else if records.capacity > 2 * records.count + 16 {
                    records = Array(records)
                }
                return true
            }
            count -= removed
            sweepIndex = stopped
            guard done else { return false }
            left -= 1  // an empty slot costs a little too
            sweepIndex = 0
            sweepSlot += 1
            if sweepSlot == TimerWheel.sweepPositions {
                sweepSlot = 0
                return true
            }
        }
        return false
    }

    private static let sweepPositions = l0Size + 3 * lnSize + 1

    /// In-place access to the slot at a sweep position, keeping the occupancy bits right.
    private mutating func withSlot<R>(_ position: Int, _ body: (inout [WheelRecord]) -> R) -> R {
        if position < TimerWheel.l0Size {
            let r = body(&level0[position])
            if level0[position].isEmpty { level0Bits[position >> 6] &= ~(1 << UInt64(position & 63)) }
            return r
        }
        let p = position - TimerWheel.l0Size
        if p < 3 * TimerWheel.lnSize {
            let level = p / TimerWheel.lnSize, slot = p % TimerWheel.lnSize
            let r = body(&levels[level][slot])
            if levels[level][slot].isEmpty { levelBits[level] &= ~(1 << UInt64(slot)) }
            return r
        }
        return body(&cascading)
    }

    /// Drops every record (FLUSHALL); the wheel's position in time is kept.
    public mutating func removeAll() {
        level0 = Array(repeating: [], count: TimerWheel.l0Size)
        levels = Array(repeating: Array(repeating: [], count: TimerWheel.lnSize), count: 3)
        level0Bits = [0, 0, 0, 0]
        levelBits = [0, 0, 0]
        cascading = []
        sweepSlot = 0
        sweepIndex = 0
        count = 0
    }

    /// Milliseconds until the next tick boundary, for the event loop's poll timeout.
    public func millisecondsToNextTick(now: Int64) -> Int64 {
        if count == 0 { return Int64.max }
        if !cascading.isEmpty { return 0 }
        return max(0, nextTick * tickMilliseconds - now)
    }
}
