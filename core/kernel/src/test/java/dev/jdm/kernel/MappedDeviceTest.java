package dev.jdm.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.TargetType;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MappedDeviceTest {
  @TempDir Path dir;
  TargetRegistry registry;
  PassTarget.Type pass;
  DeviceMapper dm;
  Path a;
  Path b;

  @BeforeEach
  void setUp() throws Exception {
    registry = new TargetRegistry();
    pass = new PassTarget.Type();
    registry.register(pass, "test");
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

  static IoStatus io(MappedDevice d, IoOp op, long sector, byte[] data) throws Exception {
    ByteBuffer buf = data == null ? null : ByteBuffer.allocateDirect(data.length).put(0, data);
    CompletableFuture<IoStatus> f = new CompletableFuture<>();
    d.submit(new IoRequest().prepare(op, 0, sector, data == null ? 0 : data.length, buf, 0,
        r -> f.complete(r.status())));
    IoStatus s = f.get(30, TimeUnit.SECONDS);
    if (op == IoOp.READ && s == IoStatus.OK) {
      buf.get(0, data);
    }
    return s;
  }

  @Test
  void splitsAtSegmentEndsAndSplitBoundaries() throws Exception {
    MappedDevice d = dm.create("split", "0 100 pass " + a + " 0 0\n100 200 pass " + b + " 10 16",
        false);
    assertEquals(300, d.sizeInSectors());
    byte[] data = new byte[80 * 512];
    new Random(1).nextBytes(data);
    pass.seen.clear();
    assertEquals(IoStatus.OK, io(d, IoOp.WRITE, 90, data));
    // 90..100 in the first segment, then 16-sector pieces counted from the second's start.
    assertEquals(List.of("90+10", "0+16", "16+16", "32+16", "48+16", "64+6"),
        new ArrayList<>(pass.seen));
    byte[] back = new byte[data.length];
    assertEquals(IoStatus.OK, io(d, IoOp.READ, 90, back));
    assertArrayEquals(data, back);
    byte[] onB = new byte[70 * 512];
    try (RandomAccessFile r = new RandomAccessFile(b.toFile(), "r")) {
      r.seek(10 * 512);
      r.readFully(onB);
    }
    assertArrayEquals(java.util.Arrays.copyOfRange(data, 10 * 512, data.length), onB);
    // A buffer whose limit a previous user left short still splits.
    ByteBuffer shortLimit = ByteBuffer.allocateDirect(40 * 512).limit(512);
    CompletableFuture<IoStatus> cut = new CompletableFuture<>();
    d.submit(new IoRequest().prepare(IoOp.READ, 0, 95, 40 * 512, shortLimit, 0,
        r -> cut.complete(r.status())));
    assertEquals(IoStatus.OK, cut.get(30, TimeUnit.SECONDS));
    pass.seen.clear();
    assertEquals(IoStatus.OK, io(d, IoOp.WRITE, 105, new byte[40 * 512]));
    assertEquals(List.of("5+11", "16+16", "32+13"), new ArrayList<>(pass.seen));
  }

  @Test
  void checksRequestsOnce() throws Exception {
    MappedDevice d = dm.create("chk", "0 100 pass " + a + " 0 0", false);
    assertEquals(IoStatus.EINVAL, io(d, IoOp.READ, 99, new byte[1024]));
    assertEquals(IoStatus.ENOSPC, io(d, IoOp.WRITE, 100, new byte[512]));
    assertEquals(IoStatus.EINVAL, io(d, IoOp.READ, 0, new byte[100]));
    CompletableFuture<IoStatus> discard = new CompletableFuture<>();
    d.submit(new IoRequest().prepare(IoOp.DISCARD, 0, 0, 512, null, 0,
        r -> discard.complete(r.status())));
    assertEquals(IoStatus.EOPNOTSUPP, discard.get(30, TimeUnit.SECONDS));
    MappedDevice ro = dm.create("ro", "0 100 pass " + b + " 0 0", true);
    assertEquals(IoStatus.EPERM, io(ro, IoOp.WRITE, 0, new byte[512]));
    List<String> traced = new ArrayList<>();
    ro.trace((start, op, sector, bytes, latency, status) ->
        traced.add(op + "," + sector + "," + bytes + "," + status));
    assertEquals(IoStatus.OK, io(ro, IoOp.READ, 3, new byte[1024]));
    assertEquals(List.of("READ,3,1024,OK"), traced);
    DeviceStats.Snapshot st = ro.stats();
    assertEquals(1, st.reads());
    assertEquals(1, st.writes());
    assertEquals(1, st.errors());
    assertEquals(1024, st.readBytes());
    assertEquals(0, st.inFlight());
    assertTrue(st.p99Micros() >= st.p50Micros() && st.p50Micros() > 0);
  }

  @Test
  void writeZeroesIsEmulatedWhereTheTargetCannot() throws Exception {
    MappedDevice d = dm.create("wz", "0 4096 pass " + a + " 0 0", false);
    byte[] ones = new byte[4096 * 512];
    java.util.Arrays.fill(ones, (byte) 1);
    assertEquals(IoStatus.OK, io(d, IoOp.WRITE, 0, ones));
    CompletableFuture<IoStatus> f = new CompletableFuture<>();
    d.submit(new IoRequest().prepare(IoOp.WRITE_ZEROES, 0, 8, 4000 * 512, null, 0,
        r -> f.complete(r.status())));
    assertEquals(IoStatus.OK, f.get(30, TimeUnit.SECONDS));
    byte[] back = new byte[4096 * 512];
    assertEquals(IoStatus.OK, io(d, IoOp.READ, 0, back));
    for (int i = 0; i < back.length; i++) {
      byte want = (i >= 8 * 512 && i < 4008 * 512) ? 0 : (byte) 1;
      if (back[i] != want) {
        throw new AssertionError("byte " + i + " is " + back[i]);
      }
    }
  }

  @Test
  void tableErrorsNameDeviceTargetAndLine() {
    String[][] cases = {
        {"0 100 nosuch x", "bad: nosuch: unknown target type (line 1)"},
        {"0 0 pass " + a + " 0 0", "bad: pass: zero-length target (line 1)"},
        {"5 100 pass " + a + " 0 0", "bad: pass: Gap in table"},
        {"0 100 pass " + a + " 0 0\n101 5 pass " + a + " 0 0", "bad: pass: Gap in table"},
        {"0 100 pass " + a + " 0", "bad: pass: Invalid argument count (line 1)"},
        {"0 100 pass /nonexistent/x 0 0", "bad: pass: Device lookup failed: /nonexistent/x"},
        {"0 x pass " + a + " 0 0", "bad: pass: Invalid length sector 'x' (line 1)"},
        {"-1 5 pass", "bad: pass: Invalid start sector '-1'"},
        {"0 100", "bad: table: Invalid format"},
        {"", "bad: table: No targets in table"},
        {"# only a comment\n", "bad: table: No targets in table"},
        {"0 100 pass " + a + " 0 0\n\n100 100 pass " + a + " 9000 0",
            "bad: pass: Device too small (line 3)"},
    };
    for (String[] c : cases) {
      DmException e = assertThrows(DmException.class, () -> dm.create("bad", c[0], false), c[0]);
      assertTrue(e.getMessage().startsWith(c[1]), e.getMessage() + " should start with " + c[1]);
      assertFalse(e.getMessage().contains("\n"));
      assertEquals(0, dm.openBackingDevices(), "left open after: " + c[0]);
    }
  }

  @Test
  void escapesAndCommentsParse() throws Exception {
    Path spaced = file("with space.img", 100);
    MappedDevice d = dm.create("esc",
        "# a comment\n\n0 100 pass " + spaced.toString().replace(" ", "\\ ") + " 0 0\n", false);
    assertEquals(100, d.sizeInSectors());
    assertEquals("0 100 pass " + spaced + " 0 0", d.table());
  }

  @Test
  void registryRefusesDuplicatesAndInUseRemoval() throws Exception {
    DmException dup = assertThrows(DmException.class,
        () -> registry.register(new PassTarget.Type(), "again"));
    assertTrue(dup.getMessage().contains("'pass' is already registered by test"));
    dm.create("user", "0 10 pass " + a + " 0 0", false);
    DmException busy = assertThrows(DmException.class, () -> registry.unregister("pass"));
    assertTrue(busy.getMessage().contains("in use"));
    dm.remove("user", false);
    registry.unregister("pass");
    assertTrue(registry.lookup("pass").isEmpty());
  }

  @Test
  void singletonMustBeAlone() throws Exception {
    registry.register(new PassTarget.Type("solo", Set.of(TargetType.Feature.SINGLETON)), "test");
    DmException e = assertThrows(DmException.class, () -> dm.create("s",
        "0 10 solo " + a + " 0 0\n10 10 pass " + a + " 0 0", false));
    assertTrue(e.getMessage().startsWith("s: solo: target type must appear alone"));
  }

  @Test
  void stackedDevicesCountOpensAndRefuseLoops() throws Exception {
    MappedDevice lower = dm.create("lower", "0 1000 pass " + a + " 0 0", false);
    MappedDevice upper = dm.create("upper", "0 500 pass /dev/mapper/lower 100 0", false);
    assertEquals(1, lower.info().openCount());
    byte[] data = new byte[1024];
    new Random(3).nextBytes(data);
    assertEquals(IoStatus.OK, io(upper, IoOp.WRITE, 5, data));
    byte[] back = new byte[1024];
    assertEquals(IoStatus.OK, io(lower, IoOp.READ, 105, back));
    assertArrayEquals(data, back);
    DmException busy = assertThrows(DmException.class, () -> dm.remove("lower", false));
    assertTrue(busy.getMessage().startsWith("lower: Device or resource busy"));
    DmException loop = assertThrows(DmException.class,
        () -> dm.load("lower", "0 400 pass /dev/mapper/upper 0 0"));
    assertTrue(loop.getMessage().contains("loop"), loop.getMessage());
    dm.remove("upper", false);
    assertEquals(0, lower.info().openCount());
  }

  @Test
  void suspendReloadResumeUnderLoadLosesNothing() throws Exception {
    MappedDevice d = dm.create("live", "0 8192 pass " + a + " 0 0", false);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger ok = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<Integer>> workers = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      int seed = t;
      workers.add(pool.submit(() -> {
        Random rnd = new Random(seed);
        int n = 0;
        while (!stop.get() || n < 50) {
          byte[] data = new byte[512 * (1 + rnd.nextInt(16))];
          rnd.nextBytes(data);
          long sector = rnd.nextInt(8192 - 16);
          IoStatus s = io(d, rnd.nextBoolean() ? IoOp.WRITE : IoOp.READ, sector, data);
          if (s != IoStatus.OK) {
            throw new AssertionError("request failed: " + s);
          }
          n++;
          ok.incrementAndGet();
        }
        return n;
      }));
    }
    try {
      for (int round = 0; round < 5; round++) {
        Thread.sleep(50);
        dm.suspend("live");
        assertTrue(d.suspended());
        Path target = round % 2 == 0 ? b : a;
        dm.load("live", "0 8192 pass " + target + " 0 0");
        Thread.sleep(20);
        dm.resume("live");
        assertFalse(d.suspended());
        assertTrue(d.table().contains(target.toString()));
      }
    } finally {
      stop.set(true);
    }
    int total = 0;
    for (Future<Integer> w : workers) {
      total += w.get(60, TimeUnit.SECONDS);
    }
    pool.shutdown();
    assertEquals(total, ok.get());
    assertTrue(total >= 400);
    assertEquals(5, d.info().eventNumber());
  }

  @Test
  void messageToATargetWithoutMessages() throws Exception {
    dm.create("m", "0 10 pass " + a + " 0 0", false);
    DmException e = assertThrows(DmException.class, () -> dm.message("m", 0, List.of("hi")));
    assertEquals("m: pass: Target does not support messages", e.getMessage());
    DmException out = assertThrows(DmException.class, () -> dm.message("m", 10, List.of("hi")));
    assertEquals("m: Target message sector outside device", out.getMessage());
  }

  @Test
  void holesAreReportedFromSparseFiles() throws Exception {
    MappedDevice d = dm.create("sparse", "0 8192 pass " + a + " 0 0", false);
    byte[] data = new byte[64 * 1024];
    java.util.Arrays.fill(data, (byte) 7);
    assertEquals(IoStatus.OK, io(d, IoOp.WRITE, 2048, data));
    List<long[]> extents = new ArrayList<>();
    d.blockStatus(0, 8192, (n, flags) -> extents.add(new long[] {n, flags}));
    long total = extents.stream().mapToLong(x -> x[0]).sum();
    assertEquals(8192, total);
    assertTrue(extents.stream().anyMatch(x -> x[1] == 0), "the written range is data");
    assertTrue(extents.getFirst()[1] != 0, "the start of a sparse file is a hole");
    assertTrue(Files.size(a) == 8192 * 512);
  }
}
