package dev.jdm.targets.logwrites;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jdm.spi.EndIoResult;
import dev.jdm.spi.IoCompletion;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetException;
import dev.jdm.testkit.MemoryDevice;
import dev.jdm.testkit.TestTargetContext;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

/**
 * The order of the log, through the SPI with writes completed in the order the test picks: the
 * kernel document's example and the rules behind it.
 */
class LogOrderTest {
  private static final int LOG_SECTORS = 4096;
  private final MemoryDevice log = new MemoryDevice("/dev/log", LOG_SECTORS);
  private final HoldingDevice held = new HoldingDevice(new MemoryDevice("/dev/data", 2048));
  private final Target target = create(held, log);
  private final Map<IoRequest, IoStatus> done = new ConcurrentHashMap<>();

  private static Target create(HoldingDevice data, MemoryDevice log) {
    TestTargetContext ctx = new TestTargetContext();
    ctx.add(data);
    ctx.add(log);
    try {
      Target t = new LogWritesTarget.Type().create(ctx, 2048, List.of("/dev/data", "/dev/log"));
      t.resume(); // live, as the core makes a created table
      return t;
    } catch (TargetException e) {
      throw new AssertionError(e);
    }
  }

  /** Maps a request as the core does and lets it reach the holding device. */
  private IoRequest submit(IoOp op, int flags, long sector, int sectors, int fill) {
    IoRequest r = new IoRequest();
    if (op == IoOp.WRITE) {
      ByteBuffer b = ByteBuffer.allocate(sectors * 512);
      for (int i = 0; i < b.capacity(); i++) {
        b.put(i, (byte) fill);
      }
      r.prepare(op, flags, sector, sectors * 512, b, 0, this::ended);
    } else {
      r.prepareRange(op, flags, sector, sectors * 512L, this::ended);
    }
    r.bindTargetData(target.newRequestData());
    MapResult m = target.map(r);
    if (m == MapResult.REMAPPED) {
      r.device().submit(r);
    }
    return r;
  }

  private void ended(IoRequest r) {
    ender(target).completed(r);
  }

  /** As the core ends a piece: end_io sees the status with the request running again. */
  private IoCompletion ender(Target t) {
    return r -> {
      IoStatus status = r.status();
      r.overrideStatus(null);
      if (t.endIo(r, status) != EndIoResult.INCOMPLETE) {
        done.put(r, status);
      }
    };
  }

  private List<LogReader.Entry> log() {
    return LogReader.read(log.contents(0, LOG_SECTORS * 512), 512);
  }

  private static String describe(List<LogReader.Entry> entries) {
    StringBuilder s = new StringBuilder();
    for (LogReader.Entry e : entries) {
      if (!s.isEmpty()) {
        s.append(',');
      }
      if (e.mark() != null) {
        s.append("mark:").append(e.mark());
      } else if ((e.flags() & LogWritesTarget.DISCARD) != 0) {
        s.append("discard@").append(e.sector());
      } else if (e.sectors() == 0) {
        s.append("flush");
      } else {
        s.append(e.flags() == 0 ? "W" : e.flags() == LogWritesTarget.FUA ? "FUA" : "W" + e.flags())
            .append(e.data()[0]);
      }
    }
    return s.toString();
  }

  @Test
  void writesCompletedBeforeAFlushIsIssuedAreLoggedBeforeItInCompletionOrder() {
    // W1,W2,W3,C3,C2,Wflush,C1,Cflush gives W3,W2,flush,W1 (W1 at the next flush, or the end).
    IoRequest w1 = submit(IoOp.WRITE, 0, 10, 1, 1);
    IoRequest w2 = submit(IoOp.WRITE, 0, 20, 1, 2);
    IoRequest w3 = submit(IoOp.WRITE, 0, 30, 1, 3);
    held.complete(w3);
    held.complete(w2);
    IoRequest flush = submit(IoOp.FLUSH, 0, 0, 0, 0);
    held.complete(w1);
    held.complete(flush);
    assertEquals(IoStatus.OK, done.get(flush), "the flush ended once its entries were logged");
    assertEquals(1, log.flushes(), "and the log flushed");
    // Three entries are in the log, but only a FUA or a mark updates the super block's count.
    assertEquals("3 5", target.status(StatusType.INFO));
    assertEquals("", describe(log()));
    target.close();
    assertEquals("W3,W2,flush,W1,mark:dm-log-writes-end", describe(log()));
    assertEquals("5 8", target.status(StatusType.INFO));
  }

  @Test
  void fuaWritesAreLoggedWhenTheyCompleteAndUpdateTheSuperBlock() throws Exception {
    IoRequest w1 = submit(IoOp.WRITE, 0, 10, 2, 1);
    IoRequest fua = submit(IoOp.WRITE, IoRequest.FUA, 20, 1, 9);
    held.complete(w1);
    held.complete(fua);
    assertEquals("FUA9", describe(log()), "the super block counts the FUA entry");
    assertEquals("1 2", target.status(StatusType.INFO));
    assertEquals("", target.message(List.of("mark", "one")));
    assertEquals("FUA9,mark:one", describe(log()));
    target.close();
    assertEquals("FUA9,mark:one,W1,mark:dm-log-writes-end", describe(log()));
    LogReader.Entry w = log().get(2);
    assertEquals(10, w.sector());
    assertEquals(2, w.sectors());
    assertArrayEquals(filled(1024, 1), w.data());
  }

  @Test
  void aPreflushWriteLogsTheWritesBeforeItThenItself() {
    IoRequest w1 = submit(IoOp.WRITE, 0, 10, 1, 1);
    held.complete(w1);
    IoRequest pf = submit(IoOp.WRITE, IoRequest.PREFLUSH | IoRequest.FUA, 40, 1, 4);
    IoRequest w2 = submit(IoOp.WRITE, 0, 50, 1, 5);
    held.complete(w2);
    held.complete(pf);
    assertEquals("W1,W" + (LogWritesTarget.FLUSH | LogWritesTarget.FUA) + "4", describe(log()));
    target.close();
    assertEquals("W1,W34,W5,mark:dm-log-writes-end", describe(log()));
  }

  @Test
  void discardsAreLoggedLikeWritesWithoutData() {
    IoRequest d = submit(IoOp.DISCARD, 0, 64, 32, 0);
    held.complete(d);
    IoRequest w = submit(IoOp.WRITE, 0, 64, 1, 7);
    held.complete(w);
    target.close();
    List<LogReader.Entry> entries = log();
    assertEquals("discard@64,W7,mark:dm-log-writes-end", describe(entries));
    assertEquals(32, entries.getFirst().sectors());
    // Super, discard header, write header, write data, mark: the highest sector is 4.
    assertEquals("3 4", target.status(StatusType.INFO));
  }

  @Test
  void aFullLogStopsLoggingAndSaysSo() {
    HoldingDevice data = new HoldingDevice(new MemoryDevice("/dev/data", 2048));
    Target t = create(data, new MemoryDevice("/dev/log", 8));
    IoRequest r = new IoRequest().prepare(IoOp.WRITE, IoRequest.FUA, 0, 4096,
        ByteBuffer.allocate(4096), 0, ender(t));
    r.bindTargetData(t.newRequestData());
    t.map(r);
    data.complete(r);
    assertEquals("0 0 logging_disabled", t.status(StatusType.INFO));
    IoRequest after = new IoRequest().prepare(IoOp.WRITE, 0, 0, 512, ByteBuffer.allocate(512), 0,
        req -> { });
    after.bindTargetData(t.newRequestData());
    assertEquals(MapResult.REMAPPED, t.map(after), "I/O goes on without logging");
    t.close();
  }

  @Test
  void marksAreCutToFitTheirBlockAndOtherMessagesRefused() throws Exception {
    target.message(List.of("MARK", "x".repeat(600)));
    target.close();
    assertEquals(512 - 32 - 1, log().getFirst().mark().length());
    assertEquals("Invalid log-writes message arguments, expect 2 arguments, got 3",
        assertThrows(TargetException.class,
            () -> target.message(List.of("mark", "a", "b"))).getMessage());
    assertEquals("Unrecognised log writes target message received: flush",
        assertThrows(TargetException.class,
            () -> target.message(List.of("flush", "a"))).getMessage());
  }

  @Test
  void aTableThatNeverWentLiveLeavesTheLogAlone() throws Exception {
    TestTargetContext ctx = new TestTargetContext();
    ctx.add(held);
    ctx.add(log);
    new LogWritesTarget.Type().create(ctx, 2048, List.of("/dev/data", "/dev/log")).close();
    assertArrayEquals(new byte[512], log.contents(0, 512), "no super block written");
  }

  @Test
  void readsAndTheTableAreLeftAlone() {
    IoRequest r = submit(IoOp.READ, 0, 0, 0, 0);
    assertEquals(MapResult.REMAPPED, target.map(r.prepare(IoOp.READ, 0, 5, 512,
        ByteBuffer.allocate(512), 0, req -> { })));
    assertEquals("/dev/data /dev/log", target.status(StatusType.TABLE));
    assertEquals("0 0", target.status(StatusType.INFO));
  }

  private static byte[] filled(int n, int value) {
    byte[] b = new byte[n];
    java.util.Arrays.fill(b, (byte) value);
    return b;
  }
}
