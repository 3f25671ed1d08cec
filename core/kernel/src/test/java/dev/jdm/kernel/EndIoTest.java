package dev.jdm.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.IoCompletion;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * end_io, per-request data, FLUSH routing and whole ranges, through a real DeviceMapper over real
 * files, with the test target {@link EndIoTarget}.
 */
class EndIoTest {
  @TempDir Path dir;
  TargetRegistry registry;
  EndIoTarget.Type endio;
  DeviceMapper dm;
  Path a;
  Path b;

  /** {@code kill}: fails every request, a stand-in for a dead leg. */
  static final class KillType implements TargetType {
    @Override
    public String name() {
      return "kill";
    }

    @Override
    public Version version() {
      return Version.of(1, 0, 0);
    }

    @Override
    public String usage() {
      return "";
    }

    @Override
    public Target create(TargetContext ctx, long length, List<String> args) {
      return new Target() {
        @Override
        public MapResult map(IoRequest request) {
          return MapResult.KILL;
        }

        @Override
        public String status(StatusType type) {
          return "";
        }
      };
    }
  }

  @BeforeEach
  void setUp() throws Exception {
    registry = new TargetRegistry();
    endio = new EndIoTarget.Type(true);
    registry.register(endio, "test");
    registry.register(new KillType(), "test");
    registry.register(new PassTarget.Type(), "test");
    dm = new DeviceMapper(registry);
    a = file("a.img", 8192);
    b = file("b.img", 8192);
  }

  @AfterEach
  void tearDown() {
    dm.close();
    assertEquals(0, dm.openBackingDevices());
  }

  private Path file(String name, long sectors) throws Exception {
    Path f = dir.resolve(name);
    try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
      r.setLength(sectors * 512);
    }
    return f;
  }

  private static IoStatus io(MappedDevice d, IoOp op, int flags, long sector, byte[] data)
      throws Exception {
    ByteBuffer buf = data == null ? null : ByteBuffer.allocateDirect(data.length).put(0, data);
    CompletableFuture<IoStatus> f = new CompletableFuture<>();
    d.submit(new IoRequest().prepare(op, flags, sector, data == null ? 0 : data.length, buf, 0,
        r -> f.complete(r.status())));
    IoStatus s = f.get(30, TimeUnit.SECONDS);
    if (op == IoOp.READ && s == IoStatus.OK) {
      buf.get(0, data);
    }
    return s;
  }

  private static byte[] random(int n) {
    byte[] b = new byte[n];
    new Random(n).nextBytes(b);
    return b;
  }

  @Test
  void endIoTransformsReadsWithItsPerRequestData() throws Exception {
    MappedDevice d = dm.create("x", "0 4096 endio " + a + " " + b + " 90 none", false);
    byte[] data = random(64 * 1024);
    assertEquals(IoStatus.OK, io(d, IoOp.WRITE, 0, 24, data.clone()));
    byte[] raw = Files.readAllBytes(a);
    assertEquals((byte) (data[0] ^ 90), raw[24 * 512]);
    byte[] back = new byte[data.length];
    assertEquals(IoStatus.OK, io(d, IoOp.READ, 0, 24, back));
    assertArrayEquals(data, back);
    // Split at every 8 sectors: 16 pieces each way, each with clean state of its own.
    assertEquals(0, endio.last.dirtyData.get());
  }

  @Test
  void endIoIncompleteRetriesOnAnotherDevice() throws Exception {
    dm.create("dead", "0 4096 kill", false);
    MappedDevice d = dm.create("x", "0 4096 endio /dev/mapper/dead " + b + " 0 none", false);
    byte[] data = random(4096);
    assertEquals(IoStatus.OK, io(d, IoOp.WRITE, 0, 8, data.clone()));
    byte[] raw = Files.readAllBytes(b);
    assertArrayEquals(data, java.util.Arrays.copyOfRange(raw, 8 * 512, 8 * 512 + 4096));
    assertEquals(1, endio.last.errors.get());
    assertEquals("errors=1", d.status().split(" ", 4)[3]);
  }

  @Test
  void endIoFailsWhenTheRetryFailsToo() throws Exception {
    dm.create("dead", "0 4096 kill", false);
    MappedDevice d = dm.create("x", "0 4096 endio /dev/mapper/dead /dev/mapper/dead 0 none",
        false);
    assertEquals(IoStatus.EIO, io(d, IoOp.READ, 0, 0, new byte[512]));
    assertEquals(2, endio.last.errors.get());
  }

  @Test
  void endIoRequeueHoldsTheRequestUntilResume() throws Exception {
    dm.create("dead", "0 4096 kill", false);
    MappedDevice d = dm.create("x", "0 4096 endio /dev/mapper/dead " + b + " 0 requeue", false);
    CompletableFuture<IoStatus> f = new CompletableFuture<>();
    ByteBuffer buf = ByteBuffer.allocateDirect(512);
    d.submit(new IoRequest().prepare(IoOp.READ, 0, 0, 512, buf, 0, r -> f.complete(r.status())));
    Thread.sleep(200);
    assertFalse(f.isDone(), "a requeued request waits for the next resume");
    dm.load("x", "0 4096 endio " + a + " " + b + " 0 requeue");
    dm.resume("x");
    assertEquals(IoStatus.OK, f.get(10, TimeUnit.SECONDS));
  }

  @Test
  void flushGoesToTargetsThatAskAndToTheDevicesOfOthers() throws Exception {
    MappedDevice d = dm.create("x", "0 4096 endio " + a + " " + b + " 0 flush", false);
    assertEquals(IoStatus.OK, io(d, IoOp.FLUSH, 0, 0, null));
    assertEquals(IoStatus.OK, io(d, IoOp.WRITE, IoRequest.PREFLUSH, 8, new byte[4096]));
    // A lone segment that takes FLUSH sees the PREFLUSH on the write itself.
    assertEquals(List.of("FLUSH 0+0", "WRITE 8+8 preflush"), List.copyOf(endio.seen));
    endio.seen.clear();

    MappedDevice two = dm.create("y", "0 4096 endio " + a + " " + b + " 0 flush\n"
        + "4096 4096 pass " + b + " 0 0", false);
    assertEquals(IoStatus.OK, io(two, IoOp.WRITE, IoRequest.PREFLUSH, 4088, new byte[8192]));
    // Two segments: the flush goes first, to the target and to the other segment's file, then
    // the data without the flag.
    assertEquals(List.of("FLUSH 0+0", "WRITE 4088+8"), List.copyOf(endio.seen));
  }

  @Test
  void wholeRangesAreNotSplitAtTheBoundary() throws Exception {
    MappedDevice d = dm.create("x", "0 4096 endio " + a + " " + b + " 0 ranges", false);
    CompletableFuture<IoStatus> f = new CompletableFuture<>();
    d.submit(new IoRequest().prepareRange(IoOp.DISCARD, 0, 4, 1000 * 512L,
        r -> f.complete(r.status())));
    assertEquals(IoStatus.OK, f.get(10, TimeUnit.SECONDS));
    assertEquals(List.of("DISCARD 4+1000"), List.copyOf(endio.seen));
  }

  @Test
  void aRangeOfMoreThanFourGibibytesIsOneRequest() throws Exception {
    Path big = file("big.img", 16L << 21); // 16 GiB, sparse
    try (RandomAccessFile r = new RandomAccessFile(big.toFile(), "rw")) {
      r.seek(5L << 30);
      r.write(new byte[] {1, 2, 3, 4});
    }
    MappedDevice d = dm.create("big", "0 " + (16L << 21) + " endio " + big + " " + big
        + " 0 ranges", false);
    long length = 6L << 30;
    CompletableFuture<IoStatus> f = new CompletableFuture<>();
    d.submit(new IoRequest().prepareRange(IoOp.WRITE_ZEROES, 0, 0, length,
        r -> f.complete(r.status())));
    assertEquals(IoStatus.OK, f.get(30, TimeUnit.SECONDS));
    assertEquals(List.of("WRITE_ZEROES 0+" + (length >> 9)), List.copyOf(endio.seen));
    byte[] back = new byte[4];
    try (RandomAccessFile r = new RandomAccessFile(big.toFile(), "r")) {
      r.seek(5L << 30);
      r.readFully(back);
    }
    assertArrayEquals(new byte[4], back);
    assertEquals(1, d.stats().others());
  }

  @Test
  void aSecondCompletionFailsLoudlyWithTheTargetsName() throws Exception {
    MappedDevice d = dm.create("x", "0 4096 endio " + a + " " + b + " 0 twice", false);
    CompletableFuture<IoStatus> f = new CompletableFuture<>();
    d.submit(new IoRequest().prepare(IoOp.READ, 0, 0, 512, ByteBuffer.allocateDirect(512), 0,
        r -> f.complete(r.status())));
    // The core catches what map threw: the request fails, and the log names "x: endio".
    IoStatus s = f.get(10, TimeUnit.SECONDS);
    assertTrue(s == IoStatus.OK || s == IoStatus.EIO);
    IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(
        IllegalStateException.class, () -> {
          IoRequest r = new IoRequest().prepare(IoOp.READ, 0, 0, 0, null, 0, new IoCompletion() {
            @Override
            public void completed(IoRequest request) {}

            @Override
            public String toString() {
              return "dev: somewhere";
            }
          });
          r.complete(IoStatus.OK);
          r.complete(IoStatus.OK);
        });
    assertTrue(e.getMessage().contains("completed twice") && e.getMessage().contains("somewhere"),
        e.getMessage());
  }

  @Test
  void endIoAndPerRequestDataAllocateNothingInSteadyState() throws Exception {
    TargetRegistry quiet = new TargetRegistry();
    quiet.register(new EndIoTarget.Type(false), "test");
    try (DeviceMapper m = new DeviceMapper(quiet)) {
      MappedDevice d = m.create("alloc", "0 4096 endio " + a + " " + b + " 0 none", false);
      ByteBuffer buf = ByteBuffer.allocateDirect(4096);
      IoStatus[] last = new IoStatus[1];
      IoCompletion done = r -> last[0] = r.status();
      IoRequest req = new IoRequest();
      int rounds = 200_000;
      long perRequest = Allocations.perCall(rounds, i -> {
        IoOp op = (i & 1) == 0 ? IoOp.WRITE : IoOp.READ;
        d.submit(req.prepare(op, 0, (i * 8L) % 4088, 4096, buf, 0, done));
        if (last[0] != IoStatus.OK) {
          throw new AssertionError("request " + i + " ended " + last[0]);
        }
      });
      assertTrue(perRequest < 8, "allocated " + perRequest + " bytes per request");
    }
  }
}
