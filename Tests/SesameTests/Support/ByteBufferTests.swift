import Testing
@testable import Sesame

@Suite struct ByteBufferTests {
    @Test func reserveCompactsBeforeGrowing() {
        let b = ByteBuffer(capacity: 32)
        b.append(bytes("0123456789012345678901234567"))  // 28 bytes
        b.consume(20)
        #expect(b.readerIndex == 20)
        let shifted = b.reserve(16)
        #expect(shifted == 20)
        #expect(b.capacity == 32)
        #expect(b.readerIndex == 0)
        #expect(b.readableArray.text == "01234567")
        #expect(b.spareCapacity >= 16)
    }

    @Test func reserveGrowsKeepingContent() {
        let b = ByteBuffer(capacity: 16)
        b.append(bytes("abcdefghij"))
        b.consume(2)
        let shifted = b.reserve(1000)
        #expect(shifted == 2)
        #expect(b.capacity >= 1008)
        #expect(b.readableArray.text == "cdefghij")
    }

    @Test func reserveWithRoomDoesNothing() {
        let b = ByteBuffer(capacity: 64)
        b.append(bytes("abc"))
        b.consume(1)
        #expect(b.reserve(10) == 0)
        #expect(b.readerIndex == 1)
    }

    @Test func consumeAllResetsIndices() {
        let b = ByteBuffer(capacity: 16)
        b.append(bytes("abc"))
        b.consume(3)
        #expect(b.readerIndex == 0 && b.writerIndex == 0)
    }

    @Test func shrinkIfIdle() {
        let b = ByteBuffer(capacity: 16)
        b.reserve(200 * 1024)
        #expect(b.capacity >= 200 * 1024)
        b.append(bytes("x"))
        b.shrinkIfIdle()
        #expect(b.capacity >= 200 * 1024)  // not empty: kept
        b.consume(1)
        b.shrinkIfIdle()
        #expect(b.capacity == 16 * 1024)
    }
}
