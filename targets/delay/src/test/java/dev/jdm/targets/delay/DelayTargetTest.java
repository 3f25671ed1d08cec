package dev.jdm.targets.delay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import dev.jdm.testkit.ManualScheduler;
import dev.jdm.testkit.MemoryDevice;
import dev.jdm.testkit.TargetHarness;
import dev.jdm.testkit.TestTargetContext;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The delay target through the SPI, its clock moved by hand. */
class DelayTargetTest {
  private static final long MS = 1_000_000L;
  private final TestTargetContext ctx = new TestTargetContext();
  private final MemoryDevice a = ctx.add(new MemoryDevice("/dev/a", 4096));
  private final MemoryDevice b = ctx.add(new MemoryDevice("/dev/b", 4096));
  private final MemoryDevice c = ctx.add(new MemoryDevice("/dev/c", 4096));
  private final ManualScheduler clock = ctx.scheduler();

  private TargetHarness delay(String args) throws TargetException {
    return TargetHarness.create(new DelayTarget.Type(), ctx, 2048, args);
  }

  @Test
  void isFoundByServiceLoaderUnderItsName() {
    TargetType t = ServiceLoader.load(TargetType.class).stream().map(ServiceLoader.Provider::get)
        .filter(x -> x.name().equals("delay")).findFirst().orElseThrow();
    assertEquals("v1.5.0", t.version().toString());
  }

  @Test
  void aRequestWaitsItsDelayExactly() throws Exception {
    TargetHarness h = delay("/dev/a 0 500");
    byte[] data = {1, 2, 3, 4};
    CompletableFuture<IoStatus> w = h.start(IoOp.WRITE, 8, java.util.Arrays.copyOf(data, 512));
    clock.advance(500 * MS - 1);
    assertFalse(w.isDone());
    assertEquals(0, a.sectors(8, 1)[0], "nothing reached the device yet");
    assertEquals("0 1 0", h.target().status(StatusType.INFO));
    clock.advance(1);
    assertEquals(IoStatus.OK, w.get(1, TimeUnit.SECONDS));
    assertEquals(1, a.sectors(8, 1)[0]);
    assertEquals("0 0 0", h.target().status(StatusType.INFO));
  }

  @Test
  void readsWritesAndFlushesGoToTheirOwnDevicesAfterTheirOwnDelays() throws Exception {
    // The kernel document's third example, on three devices.
    TargetHarness h = delay("/dev/a 0 50 /dev/b 100 100 /dev/c 200 333");
    b.put(100 + 8, new byte[] {9});
    CompletableFuture<IoStatus> r = h.start(IoOp.READ, 8, new byte[512]);
    CompletableFuture<IoStatus> w = h.start(IoOp.WRITE, 16, filled(7));
    CompletableFuture<IoStatus> f = h.start(IoOp.FLUSH, 0, null);
    assertEquals("1 1 1", h.target().status(StatusType.INFO));
    clock.advance(50 * MS);
    assertTrue(r.isDone() && !w.isDone() && !f.isDone());
    clock.advance(50 * MS);
    assertTrue(w.isDone() && !f.isDone());
    assertEquals(7, b.sectors(116, 1)[0], "the write went to the write device at its offset");
    assertEquals(0, c.flushes());
    clock.advance(233 * MS);
    assertTrue(f.isDone());
    assertEquals(1, c.flushes(), "the flush went to the flush device");
    assertEquals(0, a.flushes() + b.flushes());
  }

  @Test
  void writesWithPreflushWaitAsFlushes() throws Exception {
    TestTargetContext one = new TestTargetContext();
    one.add(new MemoryDevice("/dev/a", 4096));
    Target t = new DelayTarget.Type().create(one, 2048, List.of("/dev/a 0 0 /dev/a 0 10 /dev/a 0 20"
        .split(" ")));
    IoRequest plain = request(t, IoOp.WRITE, 0);
    IoRequest preflush = request(t, IoOp.WRITE, IoRequest.PREFLUSH);
    assertEquals(MapResult.SUBMITTED, t.map(plain));
    assertEquals(MapResult.SUBMITTED, t.map(preflush));
    assertEquals("0 1 1", t.status(StatusType.INFO));
    one.scheduler().advance(10 * MS);
    assertEquals(IoStatus.OK, plain.status());
    assertEquals(null, preflush.status());
    one.scheduler().advance(10 * MS);
    assertEquals(IoStatus.OK, preflush.status());
  }

  private static IoRequest request(Target t, IoOp op, int flags) {
    IoRequest r = new IoRequest().prepare(op, flags, 0, 512, ByteBuffer.allocate(512), 0,
        done -> { });
    r.bindTargetData(t.newRequestData());
    return r;
  }

  @Test
  void oneTimerServesEveryHeldRequest() throws Exception {
    TargetHarness h = delay("/dev/a 0 20 /dev/b 0 100");
    List<CompletableFuture<IoStatus>> writes = new ArrayList<>();
    for (int i = 0; i < 32; i++) {
      writes.add(h.start(IoOp.WRITE, i, filled(i)));
      clock.advance(MS / 10);
    }
    assertEquals(1, clock.pending(), "one timer for 32 held requests");
    assertEquals(List.of(100 * MS), clock.dueTimes());
    CompletableFuture<IoStatus> read = h.start(IoOp.READ, 0, new byte[512]);
    assertEquals(1, clock.pending(), "an earlier request re-arms the one timer");
    assertEquals(List.of(20 * MS + 32 * MS / 10), clock.dueTimes());
    assertEquals("1 32 0", h.target().status(StatusType.INFO));
    clock.advance(20 * MS);
    assertTrue(read.isDone());
    assertEquals(List.of(100 * MS), clock.dueTimes());
    clock.advance(100 * MS - 20 * MS - 32 * MS / 10);
    for (int i = 0; i < 32; i++) {
      assertEquals(IoStatus.OK, writes.get(i).getNow(null), "write " + i + " is due");
      if (i + 1 < 32) {
        assertEquals(null, writes.get(i + 1).getNow(null), "write " + (i + 1) + " is not");
      }
      clock.advance(MS / 10);
    }
    assertEquals(0, clock.pending());
    assertEquals("0 0 0", h.target().status(StatusType.INFO));
  }

  @Test
  void presuspendSendsWhatIsHeldAndResumeDelaysAgain() throws Exception {
    TargetHarness h = delay("/dev/a 0 1000");
    CompletableFuture<IoStatus> w = h.start(IoOp.WRITE, 0, filled(5));
    h.target().presuspend();
    assertEquals(IoStatus.OK, w.getNow(null), "sent at once");
    assertEquals(0, clock.pending(), "the timer is cancelled");
    assertEquals(IoStatus.OK, h.start(IoOp.READ, 0, new byte[512]).getNow(null),
        "not delayed while suspending");
    h.target().resume();
    CompletableFuture<IoStatus> later = h.start(IoOp.READ, 0, new byte[512]);
    assertFalse(later.isDone());
    clock.advance(1000 * MS);
    assertTrue(later.isDone());
  }

  @Test
  void aZeroDelayPassesStraightThroughAndCloseCancelsTheTimer() throws Exception {
    TargetHarness h = delay("/dev/a 0 0 /dev/b 0 30");
    byte[] read = new byte[512];
    a.put(3, filled(4));
    assertEquals(IoStatus.OK, h.start(IoOp.READ, 3, read).getNow(null));
    assertArrayEquals(filled(4), read);
    h.start(IoOp.WRITE, 0, filled(1));
    assertEquals(1, clock.pending());
    h.target().presuspend();
    h.close();
    assertEquals(0, clock.pending());
  }

  @Test
  void statusPrintsTheTableAsGivenAndTheHeldCounts() throws Exception {
    assertEquals("/dev/a 0 500", delay("/dev/a 0 500").target().status(StatusType.TABLE));
    assertEquals("/dev/a 2048 0 /dev/b 4000 400",
        TargetHarness.create(new DelayTarget.Type(), ctx, 8, "/dev/a 2048 0 /dev/b 4000 400")
            .target().status(StatusType.TABLE));
    assertEquals("/dev/a 0 50 /dev/b 0 100 /dev/a 0 333",
        delay("/dev/a 0 50 /dev/b 0 100 /dev/a 0 333").target().status(StatusType.TABLE));
  }

  @Test
  void refusesWithTheKernelsPhrases() {
    assertRefused("Requires exactly 3, 6 or 9 arguments", "/dev/a 0");
    assertRefused("Requires exactly 3, 6 or 9 arguments", "/dev/a 0 1 /dev/b 0");
    assertRefused("Invalid device sector", "/dev/a x 1");
    assertRefused("Invalid delay", "/dev/a 0 -1");
    assertRefused("Invalid delay", "/dev/a 0 1 /dev/b 0 4294967296");
    assertRefused("Invalid device sector", "/dev/a 0 1 /dev/b 0 1 /dev/c 1.5 1");
    assertRefused("Device lookup failed", "/dev/nope 0 1");
    assertRefused("Device too small", "/dev/a 4096 1");
    assertEquals(List.of(), ctx.opened().stream().filter(p -> p.equals("/dev/nope")).toList());
  }

  private void assertRefused(String phrase, String args) {
    assertEquals(phrase, assertThrows(TargetException.class, () -> delay(args)).getMessage());
  }

  private static byte[] filled(int value) {
    byte[] b = new byte[512];
    java.util.Arrays.fill(b, (byte) value);
    return b;
  }
}
