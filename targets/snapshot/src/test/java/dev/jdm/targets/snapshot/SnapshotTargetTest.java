package dev.jdm.targets.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.TargetException;
import dev.jdm.testkit.MemoryDevice;
import dev.jdm.testkit.TargetHarness;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The three snapshot targets through the SPI alone, over memory devices. */
class SnapshotTargetTest {
  private static final int ORIGIN_SECTORS = 2048;
  private static final int COW_SECTORS = 512;
  private static final int CHUNK = 8;
  private static final int CHUNK_BYTES = CHUNK * 512;

  private final ServicesContext ctx = new ServicesContext();
  private MemoryDevice origin;
  private MemoryDevice cow;
  private byte[] original;
  private TargetHarness o;

  @BeforeEach
  void devices() throws Exception {
    origin = ctx.add(new MemoryDevice("/dev/origin", ORIGIN_SECTORS));
    cow = ctx.add(new MemoryDevice("/dev/cow", COW_SECTORS));
    original = new byte[ORIGIN_SECTORS * 512];
    new Random(1).nextBytes(original);
    origin.put(0, original);
    o = TargetHarness.create(new SnapshotOriginTarget.Type(), ctx, ORIGIN_SECTORS, "/dev/origin");
  }

  private TargetHarness snapshot(String cowPath, String store) throws TargetException {
    TargetHarness s = TargetHarness.create(new SnapshotTarget.Type(), ctx, ORIGIN_SECTORS,
        "/dev/origin " + cowPath + " " + store);
    s.target().resume();
    return s;
  }

  private static byte[] bytes(int n, int seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static byte[] read(TargetHarness h, long sector, int bytes) throws Exception {
    byte[] b = new byte[bytes];
    assertEquals(IoStatus.OK, h.run(IoOp.READ, sector, b));
    return b;
  }

  private byte[] originalAt(long sector, int bytes) {
    byte[] b = new byte[bytes];
    System.arraycopy(original, Math.toIntExact(sector * 512), b, 0, bytes);
    return b;
  }

  @Test
  void originWriteCopiesTheChunkIntoTheSnapshotFirst() throws Exception {
    TargetHarness s = snapshot("/dev/cow", "P 8");
    byte[] data = bytes(4096, 2);
    assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 16, data));
    assertArrayEquals(data, origin.sectors(16, 8));
    assertArrayEquals(originalAt(16, 4096), read(s, 16, 4096), "the snapshot keeps the old data");
    assertArrayEquals(original, read(s, 0, ORIGIN_SECTORS * 512));
    assertEquals("24/512 16", s.target().status(StatusType.INFO));
    assertEquals("/dev/origin /dev/cow P 8", s.target().status(StatusType.TABLE));
    // Written again: no second copy.
    long copies = ctx.copiesDone.get();
    assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 17, bytes(512, 3)));
    assertEquals(copies, ctx.copiesDone.get());
    assertArrayEquals(originalAt(16, 4096), read(s, 16, 4096));
  }

  @Test
  void snapshotReadsTheMomentItWasTakenEverywhere() throws Exception {
    TargetHarness s = snapshot("/dev/cow", "P 8");
    Random rnd = new Random(5);
    // At most 60 chunks copied: the COW device holds 62.
    for (int i = 0; i < 15; i++) {
      int sectors = 1 + rnd.nextInt(24);
      long sector = rnd.nextInt(ORIGIN_SECTORS - sectors);
      assertEquals(IoStatus.OK, o.run(IoOp.WRITE, sector, bytes(sectors * 512, i)));
    }
    assertArrayEquals(original, read(s, 0, ORIGIN_SECTORS * 512));
  }

  @Test
  void writesToTheSnapshotDoNotReachTheOrigin() throws Exception {
    TargetHarness s = snapshot("/dev/cow", "P 8");
    byte[] one = bytes(512, 4);
    assertEquals(IoStatus.OK, s.run(IoOp.WRITE, 33, one));
    assertArrayEquals(original, origin.sectors(0, ORIGIN_SECTORS), "the origin is untouched");
    byte[] expected = originalAt(32, CHUNK_BYTES);
    System.arraycopy(one, 0, expected, 512, 512);
    assertArrayEquals(expected, read(s, 32, CHUNK_BYTES), "the rest of the chunk was copied");
    assertArrayEquals(originalAt(32, CHUNK_BYTES), read(o, 32, CHUNK_BYTES));
  }

  @Test
  void aWholeChunkWriteToTheSnapshotIsTheCopy() throws Exception {
    TargetHarness s = snapshot("/dev/cow", "P 8");
    ctx.copyAtOnce = false;
    byte[] chunk = bytes(CHUNK_BYTES, 6);
    assertEquals(IoStatus.OK, s.run(IoOp.WRITE, 64, chunk));
    assertEquals(0, ctx.copiesWaiting(), "no copy of a chunk written whole");
    assertArrayEquals(chunk, read(s, 64, CHUNK_BYTES));
    assertEquals("24/512 16", s.target().status(StatusType.INFO));
  }

  @Test
  void ioOfAChunkBeingCopiedWaitsForThatCopyOnly() throws Exception {
    TargetHarness s = snapshot("/dev/cow", "P 8");
    assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 72, bytes(512, 7)));
    ctx.copyAtOnce = false;
    CompletableFuture<IoStatus> first = o.start(IoOp.WRITE, 16, bytes(512, 8));
    CompletableFuture<IoStatus> second = o.start(IoOp.WRITE, 17, bytes(512, 9));
    CompletableFuture<IoStatus> other = o.start(IoOp.WRITE, 40, bytes(512, 10));
    assertFalse(first.isDone());
    assertFalse(second.isDone(), "a second write of the chunk waits for the same copy");
    assertEquals(2, ctx.copiesWaiting(), "one copy per chunk");
    assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 73, bytes(512, 11)), "a copied chunk: no wait");
    assertArrayEquals(originalAt(16, 512), read(o, 16, 512), "reads pass, the old data still");
    assertArrayEquals(originalAt(16, 4096), read(s, 16, 4096));
    assertTrue(ctx.runOneCopy());
    assertEquals(IoStatus.OK, first.get());
    assertEquals(IoStatus.OK, second.get());
    assertFalse(other.isDone(), "the other chunk's copy has not run");
    ctx.runCopies();
    assertEquals(IoStatus.OK, other.get());
    assertArrayEquals(originalAt(16, 4096), read(s, 16, 4096));
    assertArrayEquals(originalAt(40, 4096), read(s, 40, 4096));
  }

  @Test
  void aSnapshotReadOfTheOriginHoldsBackTheOriginWriteOfItsChunk() throws Exception {
    MemoryDevice slow = ctx.add(new MemoryDevice("/dev/cow2", COW_SECTORS));
    TargetHarness s = snapshot(slow.path(), "N 8");
    // A read of chunk 2 in flight on the origin: track it by hand through the target.
    dev.jdm.spi.IoRequest read = new dev.jdm.spi.IoRequest();
    Snapshot.Track t = (Snapshot.Track) s.target().newRequestData();
    CompletableFuture<IoStatus> readDone = new CompletableFuture<>();
    read.prepare(IoOp.READ, 0, 16, 512, java.nio.ByteBuffer.allocateDirect(512), 0,
        r -> readDone.complete(r.status()));
    read.bindTargetData(t);
    assertEquals(dev.jdm.spi.MapResult.REMAPPED, s.target().map(read));
    CompletableFuture<IoStatus> write = o.start(IoOp.WRITE, 16, bytes(512, 12));
    assertFalse(write.isDone(), "the origin write waits for the snapshot's read of the chunk");
    s.target().endIo(read, IoStatus.OK);
    assertEquals(IoStatus.OK, write.get());
  }

  @Test
  void threeSnapshotsOfOneOriginEachKeepTheirMoment() throws Exception {
    List<TargetHarness> snaps = new ArrayList<>();
    List<byte[]> moments = new ArrayList<>();
    byte[] now = original.clone();
    for (int i = 0; i < 3; i++) {
      MemoryDevice c = ctx.add(new MemoryDevice("/dev/cow-" + i, COW_SECTORS));
      snaps.add(snapshot(c.path(), i == 1 ? "N 16" : "P " + (8 << i)));
      moments.add(now.clone());
      Random rnd = new Random(20 + i);
      for (int w = 0; w < 10; w++) {
        int sectors = 1 + rnd.nextInt(16);
        long sector = rnd.nextInt(ORIGIN_SECTORS - sectors);
        byte[] data = bytes(sectors * 512, 100 * i + w);
        assertEquals(IoStatus.OK, o.run(IoOp.WRITE, sector, data));
        System.arraycopy(data, 0, now, Math.toIntExact(sector * 512), data.length);
      }
    }
    assertArrayEquals(now, origin.sectors(0, ORIGIN_SECTORS));
    for (int i = 0; i < 3; i++) {
      assertArrayEquals(moments.get(i), read(snaps.get(i), 0, ORIGIN_SECTORS * 512),
          "snapshot " + i);
    }
  }

  @Test
  void thePersistentStoreIsTheKernelsFormat() throws Exception {
    // 1-sector chunks: 32 exceptions per metadata area, so 40 fill one area and start the next.
    TargetHarness s = snapshot("/dev/cow", "P 1");
    for (int i = 0; i < 40; i++) {
      assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 1000 - 2 * i, bytes(512, i)));
    }
    byte[] image = cow.sectors(0, COW_SECTORS);
    KernelCow.Header h = KernelCow.header(image);
    assertEquals(new KernelCow.Header(0x70416e53, 1, 1, 1), h);
    List<KernelCow.Exception> ex = KernelCow.exceptions(image);
    assertEquals(40, ex.size());
    for (int i = 0; i < 40; i++) {
      // Area 0 at chunk 1 with data chunks 2..33, area 1 at chunk 34 with data from 35.
      long newChunk = i < 32 ? 2 + i : 35 + (i - 32);
      assertEquals(new KernelCow.Exception(1000 - 2 * i, newChunk), ex.get(i), "exception " + i);
      assertArrayEquals(originalAt(1000 - 2 * i, 512), cow.sectors(newChunk, 1),
          "the old data of chunk " + (1000 - 2 * i));
    }
    assertEquals((35 + 8) + "/512 " + 3, s.target().status(StatusType.INFO));
  }

  @Test
  void anAreaIsWrittenAfterTheNextIsZeroedAndTheCopiesFlushed() throws Exception {
    snapshot("/dev/cow", "P 1");
    ctx.metadataLog.clear();
    for (int i = 0; i < 32; i++) {
      assertEquals(IoStatus.OK, o.run(IoOp.WRITE, i, bytes(512, i)));
    }
    List<String> log = ctx.metadataLog;
    // Each exception's own commit of area 0 (chunk 1), the 32nd with area 1 (chunk 34) zeroed.
    assertEquals(List.of("flush", "write 1", "flush"), log.subList(0, 3));
    assertEquals(List.of("write 34", "flush", "write 1", "flush"),
        log.subList(log.size() - 4, log.size()));
  }

  @Test
  void itLoadsACowImageWrittenToTheKernelsLayout() throws Exception {
    List<Long> olds = List.of(5L, 6L, 100L, 3L);
    List<byte[]> data = new ArrayList<>();
    for (int i = 0; i < olds.size(); i++) {
      data.add(bytes(CHUNK_BYTES, 50 + i));
    }
    cow.put(0, KernelCow.image(CHUNK, COW_SECTORS * 512, olds, data));
    TargetHarness s = snapshot("/dev/cow", "P 8");
    for (int i = 0; i < olds.size(); i++) {
      assertArrayEquals(data.get(i), read(s, olds.get(i) * CHUNK, CHUNK_BYTES));
    }
    assertArrayEquals(originalAt(0, CHUNK_BYTES * 3), read(s, 0, CHUNK_BYTES * 3));
    assertEquals((6 * 8) + "/512 16", s.target().status(StatusType.INFO));
    // New exceptions go on after the loaded ones, in the same area.
    assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 200 * CHUNK, bytes(512, 60)));
    List<KernelCow.Exception> ex = KernelCow.exceptions(cow.sectors(0, COW_SECTORS));
    assertEquals(new KernelCow.Exception(200, 6), ex.get(4));
  }

  @Test
  void theHeadersChunkSizeWinsOverTheTables() throws Exception {
    cow.put(0, KernelCow.image(CHUNK, COW_SECTORS * 512, List.of(), List.of()));
    TargetHarness s = snapshot("/dev/cow", "P 32");
    assertEquals("/dev/origin /dev/cow P 8", s.target().status(StatusType.TABLE));
    assertEquals(8, s.target().maxIoSectors());
  }

  @Test
  void aReloadedSnapshotFindsEveryCommittedException() throws Exception {
    TargetHarness s = snapshot("/dev/cow", "PO 8");
    for (int i = 0; i < 10; i++) {
      assertEquals(IoStatus.OK, o.run(IoOp.WRITE, i * 24, bytes(512, i)));
    }
    assertEquals(IoStatus.OK, s.run(IoOp.WRITE, 1500, bytes(512, 99)));
    byte[] before = read(s, 0, ORIGIN_SECTORS * 512);
    s.close();
    TargetHarness again = snapshot("/dev/cow", "PO 8");
    assertArrayEquals(before, read(again, 0, ORIGIN_SECTORS * 512));
    assertEquals(11, KernelCow.exceptions(cow.sectors(0, COW_SECTORS)).size());
  }

  @Test
  void twoTablesOverOneCowShareItsExceptions() throws Exception {
    TargetHarness a = snapshot("/dev/cow", "P 8");
    TargetHarness b = snapshot("/dev/cow", "P 8");
    assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 8, bytes(512, 1)));
    byte[] mine = bytes(512, 2);
    assertEquals(IoStatus.OK, a.run(IoOp.WRITE, 100, mine));
    assertArrayEquals(mine, read(b, 100, 512));
    assertArrayEquals(originalAt(8, 512), read(b, 8, 512));
    a.close();
    assertArrayEquals(mine, read(b, 100, 512));
    assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 300, bytes(512, 3)));
    assertArrayEquals(originalAt(300, 512), read(b, 300, 512));
  }

  @Test
  void aFullPersistentSnapshotBecomesInvalidAndTheOriginGoesOn() throws Exception {
    // 64 sectors of 8-sector chunks: header, area and 6 data chunks.
    MemoryDevice small = ctx.add(new MemoryDevice("/dev/small", 64));
    TargetHarness s = snapshot(small.path(), "P 8");
    for (int i = 0; i < 6; i++) {
      assertEquals(IoStatus.OK, o.run(IoOp.WRITE, i * CHUNK, bytes(512, i)));
    }
    assertEquals("64/64 16", s.target().status(StatusType.INFO));
    assertEquals(0, ctx.events());
    byte[] last = bytes(512, 7);
    assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 800, last), "the origin keeps working");
    assertArrayEquals(last, origin.sectors(800, 1));
    assertEquals("Invalid", s.target().status(StatusType.INFO));
    assertEquals(1, ctx.events());
    assertEquals(IoStatus.EIO, s.run(IoOp.READ, 0, new byte[512]));
    assertEquals(0, KernelCow.header(small.sectors(0, 64)).valid(), "invalid on the COW device");
    assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 900, last));
  }

  @Test
  void aFullTransientSnapshotBecomesInvalid() throws Exception {
    MemoryDevice small = ctx.add(new MemoryDevice("/dev/small", 16));
    TargetHarness s = snapshot(small.path(), "N 8");
    assertEquals("0/16 0", s.target().status(StatusType.INFO));
    assertEquals(IoStatus.OK, s.run(IoOp.WRITE, 0, bytes(512, 1)));
    assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 8, bytes(512, 2)));
    assertEquals("16/16 0", s.target().status(StatusType.INFO));
    assertEquals(IoStatus.EIO, s.run(IoOp.WRITE, 16, bytes(512, 3)));
    assertEquals("Invalid", s.target().status(StatusType.INFO));
    assertEquals(1, ctx.events());
  }

  @Test
  void aFullSnapshotSaysOverflowWhenTheTableSaysPo() throws Exception {
    MemoryDevice small = ctx.add(new MemoryDevice("/dev/small", 32));
    TargetHarness s = snapshot(small.path(), "PO 8");
    assertEquals(IoStatus.OK, s.run(IoOp.WRITE, 0, bytes(512, 1)));
    assertEquals(IoStatus.OK, s.run(IoOp.WRITE, 8, bytes(512, 2)));
    assertEquals(IoStatus.EIO, s.run(IoOp.WRITE, 16, bytes(512, 3)));
    assertEquals("Overflow", s.target().status(StatusType.INFO));
    assertEquals(1, ctx.events());
    assertEquals(IoStatus.EIO, s.run(IoOp.WRITE, 0, bytes(512, 4)), "no more writes");
    assertArrayEquals(originalAt(16, 512), read(s, 16, 512), "reads still work");
    assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 40, bytes(512, 5)));
  }

  @Test
  void mergeCopiesTheExceptionsBackIntoTheOrigin() throws Exception {
    TargetHarness s = snapshot("/dev/cow", "P 8");
    Random rnd = new Random(9);
    for (int i = 0; i < 20; i++) {
      assertEquals(IoStatus.OK, o.run(IoOp.WRITE, rnd.nextInt(ORIGIN_SECTORS - 8),
          bytes(4096, i)));
    }
    byte[] mine = bytes(1024, 77);
    assertEquals(IoStatus.OK, s.run(IoOp.WRITE, 1234, mine));
    byte[] expected = read(s, 0, ORIGIN_SECTORS * 512);
    s.close();
    o.close();
    TargetHarness m = TargetHarness.create(new SnapshotMergeTarget.Type(), ctx, ORIGIN_SECTORS,
        "/dev/origin /dev/cow P 8");
    assertArrayEquals(expected, read(m, 0, ORIGIN_SECTORS * 512), "merging shows the snapshot");
    m.target().resume(); // the test scheduler runs the whole merge at once
    assertEquals("16/512 16", m.target().status(StatusType.INFO));
    assertArrayEquals(expected, origin.sectors(0, ORIGIN_SECTORS));
    assertArrayEquals(expected, read(m, 0, ORIGIN_SECTORS * 512));
    assertEquals(0, KernelCow.exceptions(cow.sectors(0, COW_SECTORS)).size());
    byte[] after = bytes(512, 78);
    assertEquals(IoStatus.OK, m.run(IoOp.WRITE, 3, after));
    assertArrayEquals(after, origin.sectors(3, 1));
    assertEquals(1, ctx.events(), "an event when the merge is done");
    m.close();
  }

  @Test
  void aMergeKeepsTheOriginsOtherSnapshots() throws Exception {
    TargetHarness s = snapshot("/dev/cow", "P 8");
    assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 16, bytes(4096, 1)));
    byte[] moment = origin.sectors(0, ORIGIN_SECTORS);
    MemoryDevice other = ctx.add(new MemoryDevice("/dev/other", COW_SECTORS));
    TargetHarness keep = snapshot(other.path(), "N 8");
    s.close();
    o.close();
    TargetHarness m = TargetHarness.create(new SnapshotMergeTarget.Type(), ctx, ORIGIN_SECTORS,
        "/dev/origin /dev/cow P 8");
    m.target().resume();
    assertArrayEquals(original, origin.sectors(0, ORIGIN_SECTORS));
    assertArrayEquals(moment, read(keep, 0, ORIGIN_SECTORS * 512));
    assertEquals(IoStatus.OK, m.run(IoOp.WRITE, 500, bytes(512, 2)));
    assertArrayEquals(moment, read(keep, 0, ORIGIN_SECTORS * 512));
  }

  @Test
  void discardZeroesCopiedChunksInTheCow() throws Exception {
    TargetHarness s = snapshot("/dev/cow", "P 8 1 discard_zeroes_cow");
    assertEquals(IoStatus.OK, o.run(IoOp.WRITE, 24, bytes(512, 1)));
    assertEquals(IoStatus.OK, s.run(IoOp.DISCARD, 24, new byte[CHUNK_BYTES]));
    assertArrayEquals(new byte[CHUNK_BYTES], read(s, 24, CHUNK_BYTES));
    assertEquals(IoStatus.OK, s.run(IoOp.DISCARD, 40, new byte[CHUNK_BYTES]));
    assertArrayEquals(originalAt(40, CHUNK_BYTES), read(s, 40, CHUNK_BYTES), "nothing to discard");
    assertEquals("/dev/origin /dev/cow P 8 1 discard_zeroes_cow",
        s.target().status(StatusType.TABLE));
  }

  @Test
  void tablesPrintWhatBuiltThem() throws Exception {
    assertEquals("/dev/origin", o.target().status(StatusType.TABLE));
    assertEquals("", o.target().status(StatusType.INFO));
    assertEquals("/dev/origin /dev/cow PO 16 2 discard_zeroes_cow discard_passdown_origin",
        snapshot("/dev/cow", "po 16 2 discard_zeroes_cow discard_passdown_origin").target()
            .status(StatusType.TABLE));
    MemoryDevice n = ctx.add(new MemoryDevice("/dev/n", COW_SECTORS));
    assertEquals("/dev/origin /dev/n N 8", snapshot(n.path(), "N 8").target()
        .status(StatusType.TABLE));
  }

  @Test
  void badTablesAreRefusedInTheKernelsWords() {
    assertRefused("requires 4 or more arguments", "/dev/origin /dev/cow P");
    assertRefused("Couldn't create exception store", "/dev/origin /dev/cow X 8");
    assertRefused("Couldn't create exception store", "/dev/origin /dev/cow PX 8");
    assertRefused("Couldn't create exception store", "/dev/origin /dev/cow P 12");
    assertRefused("Couldn't create exception store", "/dev/origin /dev/cow P eight");
    assertRefused("Couldn't create exception store", "/dev/origin /dev/cow P 4096");
    assertRefused("Invalid number of feature arguments", "/dev/origin /dev/cow P 8 3 a b c");
    assertRefused("Unrecognised feature requested", "/dev/origin /dev/cow P 8 1 frobnicate");
    assertRefused("discard_passdown_origin feature depends on discard_zeroes_cow",
        "/dev/origin /dev/cow P 8 1 discard_passdown_origin");
    assertRefused("Cannot get origin device", "/dev/none /dev/cow P 8");
    assertRefused("Cannot get COW device", "/dev/origin /dev/none P 8");
    assertRefused("COW device cannot be the same as origin device", "/dev/origin /dev/origin P 8");
    assertRefused("Chunk size not set", "/dev/origin /dev/cow N 0");
    TargetException e = assertThrows(TargetException.class, () -> TargetHarness.create(
        new SnapshotOriginTarget.Type(), ctx, ORIGIN_SECTORS, "/dev/origin /dev/cow"));
    assertEquals("origin: incorrect number of arguments", e.getMessage());
    e = assertThrows(TargetException.class, () -> TargetHarness.create(
        new SnapshotMergeTarget.Type(), ctx, ORIGIN_SECTORS, "/dev/origin /dev/cow N 8"));
    assertEquals("Snapshot exception store does not support snapshot-merge.", e.getMessage());
  }

  @Test
  void notASnapshotOnTheCowIsRefused() {
    cow.put(0, bytes(512, 1));
    assertRefused("Failed to read snapshot metadata", "/dev/origin /dev/cow P 8");
  }

  private void assertRefused(String phrase, String args) {
    TargetException e = assertThrows(TargetException.class, () -> TargetHarness.create(
        new SnapshotTarget.Type(), ctx, ORIGIN_SECTORS, args), args);
    assertEquals(phrase, e.getMessage(), args);
  }
}
