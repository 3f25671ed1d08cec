package dev.jdm.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.DmException;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.IoStatus;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The conformance tests every target passes. Extend it in your target's tests and say how to build
 * a device of your target over the kit's backing devices:
 *
 * <pre>{@code
 * class LinearConformanceTest extends TargetConformance {
 *   protected String table(List<String> devs) {
 *     return "0 8192 linear " + devs.get(0) + " 0\n8192 8192 linear " + devs.get(1) + " 100";
 *   }
 *   protected List<String> invalidTables(List<String> devs) {
 *     return List.of("0 8192 linear " + devs.get(0), "0 8192 linear " + devs.get(0) + " x");
 *   }
 * }
 * }</pre>
 *
 * <p>The kit finds your target type on the test class path with {@link java.util.ServiceLoader}.
 * Backing devices are {@code /dev/mapper/kit-spy-N}: jdm devices over real temp files, each
 * {@link #backingSectors()} long, that count the flushes reaching them. Each test checks: data
 * written at random offsets and lengths (across segment and chunk boundaries) reads back; several
 * threads at once; the TABLE status re-parses to an equal device; bad tables fail with one line
 * naming the device and target and leave nothing open; FLUSH reaches every device; removing the
 * device closes everything it opened. Also: the TABLE status prints the table you built, exactly,
 * with your segments moved to a non-zero start; no write changes the submitter's buffer; every
 * request completes once and only once (a
 * second completion is reported within a second); and no thread a target started is still running
 * after its device is gone.
 */
public abstract class TargetConformance {
  /** What a target does with data, so the kit knows what reads should return. */
  public enum Behaviour {
    /** Reads return what was written. */
    STORES_DATA,
    /** Reads return zeros; writes succeed and are dropped. */
    READS_ZEROS,
    /** Every read and write fails with EIO. */
    FAILS_IO,
    /**
     * Reads return what was written; sectors never written read as anything (an encrypting target
     * decrypts the backing file's zeros into noise).
     */
    UNDEFINED_UNWRITTEN
  }

  /** Threads alive before the test: any other thread still running after close is a leak. */
  private java.util.Set<Thread> threadsBefore;

  private static final String DUT = "kit-dut";

  @TempDir
  Path dir;
  /** The mapper the kit built for this test. */
  protected DeviceMapper mapper;
  private final SpyTarget.Type spies = new SpyTarget.Type();
  private List<String> devices;

  /** The table of a device under test over {@code devices} (paths of the kit's backing devices). */
  protected abstract String table(List<String> devices);

  /** Tables, each with one line for your target, that its constructor must refuse. */
  protected abstract List<String> invalidTables(List<String> devices);

  /** What reads return; STORES_DATA unless overridden. */
  protected Behaviour behaviour() {
    return Behaviour.STORES_DATA;
  }

  /** How many backing devices the kit makes (default 4). */
  protected int backingDevices() {
    return 4;
  }

  /** Size of each backing device in sectors (default 16384: 8 MiB). */
  protected long backingSectors() {
    return 16384;
  }

  @BeforeEach
  final void makeBackingDevices() throws Exception {
    threadsBefore = Thread.getAllStackTraces().keySet();
    TargetRegistry registry = new TargetRegistry();
    List<String> problems = registry.discover(getClass().getClassLoader(), "class path");
    assertEquals(List.of(), problems, "target types on the class path must load");
    registry.register(spies, "jdm-testkit");
    mapper = new DeviceMapper(registry);
    devices = new ArrayList<>();
    for (int i = 0; i < backingDevices(); i++) {
      Path f = dir.resolve("backing-" + i + ".img");
      try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
        raf.setLength(backingSectors() * 512);
      }
      mapper.create("kit-spy-" + i, "0 " + backingSectors() + " kit-spy " + f, false);
      devices.add("/dev/mapper/kit-spy-" + i);
    }
  }

  @AfterEach
  final void closeMapper() throws InterruptedException {
    if (mapper != null) {
      mapper.close();
      assertEquals(0, mapper.openBackingDevices(), "backing devices left open after close");
    }
    // A target's threads end with it; give them a second to notice.
    List<String> left = List.of();
    for (int i = 0; i < 20; i++) {
      left = Thread.getAllStackTraces().keySet().stream()
          .filter(t -> t.isAlive() && !threadsBefore.contains(t))
          .map(Thread::getName)
          .filter(n -> !n.startsWith("ForkJoinPool.commonPool") && !n.startsWith("process reaper")
              && !n.startsWith("Attach Listener"))
          .toList();
      if (left.isEmpty()) {
        return;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("threads still running after every device was removed: " + left);
  }

  private MappedDevice create(String name) throws DmException {
    return mapper.create(name, table(devices), false);
  }

  @Test
  void dataReadsBackAtRandomOffsetsAndLengths() throws Exception {
    MappedDevice d = create(DUT);
    long size = d.sizeInSectors();
    byte[] model = new byte[Math.toIntExact(size * 512)];
    boolean[] written = new boolean[Math.toIntExact(size)];
    BlockIo io = new BlockIo(d);
    Random rnd = new Random(42);
    List<Long> edges = boundaries(d);
    for (int i = 0; i < 300; i++) {
      long sector;
      int sectors = 1 + rnd.nextInt(256);
      if (i % 3 == 0 && !edges.isEmpty()) {
        long edge = edges.get(rnd.nextInt(edges.size()));
        sector = Math.max(0, edge - 1 - rnd.nextInt(sectors));
      } else {
        sector = (long) (rnd.nextDouble() * size);
      }
      sectors = (int) Math.min(sectors, size - sector);
      if (sectors <= 0) {
        continue;
      }
      byte[] data = new byte[sectors * 512];
      rnd.nextBytes(data);
      IoStatus w = io.write(sector, data);
      if (behaviour() == Behaviour.FAILS_IO) {
        assertEquals(IoStatus.EIO, w, "write must fail");
        assertEquals(IoStatus.EIO, io.readStatus(sector, data.length), "read must fail");
        continue;
      }
      assertEquals(IoStatus.OK, w, "write of " + sectors + " sectors at " + sector);
      if (behaviour() != Behaviour.READS_ZEROS) {
        System.arraycopy(data, 0, model, Math.toIntExact(sector * 512), data.length);
        java.util.Arrays.fill(written, (int) sector, (int) sector + sectors, true);
      }
      int from = Math.toIntExact(Math.max(0, sector - 64));
      int len = (int) Math.min(size - from, sectors + 128L) * 512;
      byte[] expected = new byte[len];
      System.arraycopy(model, from * 512, expected, 0, len);
      byte[] actual = io.read(from, len);
      if (behaviour() == Behaviour.UNDEFINED_UNWRITTEN) {
        for (int s = 0; s < len / 512; s++) {
          if (!written[from + s]) {
            System.arraycopy(expected, s * 512, actual, s * 512, 512);
          }
        }
      }
      assertArrayEquals(expected, actual, "read back at sector " + from);
    }
  }

  @Test
  void concurrentWritersEachReadBackTheirOwnData() throws Exception {
    MappedDevice d = create(DUT);
    int threads = 4;
    long region = d.sizeInSectors() / threads;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        long base = t * region;
        int seed = t;
        done.add(pool.submit(() -> {
          BlockIo io = new BlockIo(d);
          Random rnd = new Random(seed);
          for (int i = 0; i < 100; i++) {
            int sectors = 1 + rnd.nextInt(64);
            long sector = base + (long) (rnd.nextDouble() * (region - sectors));
            byte[] data = new byte[sectors * 512];
            rnd.nextBytes(data);
            IoStatus s = io.write(sector, data);
            switch (behaviour()) {
              case STORES_DATA, UNDEFINED_UNWRITTEN -> {
                assertEquals(IoStatus.OK, s);
                assertArrayEquals(data, io.read(sector, data.length));
              }
              case READS_ZEROS -> {
                assertEquals(IoStatus.OK, s);
                assertArrayEquals(new byte[data.length], io.read(sector, data.length));
              }
              case FAILS_IO -> assertEquals(IoStatus.EIO, s);
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void tableStatusBuildsAnEqualDevice() throws Exception {
    MappedDevice d = create(DUT);
    String table = d.table();
    MappedDevice copy = mapper.create("kit-copy", table, false);
    assertEquals(table, copy.table(), "TABLE status must re-parse to the same table");
    assertEquals(d.sizeInSectors(), copy.sizeInSectors());
    assertEquals(d.status(), copy.status());
    if (behaviour() == Behaviour.STORES_DATA || behaviour() == Behaviour.UNDEFINED_UNWRITTEN) {
      byte[] data = new byte[4096];
      new Random(7).nextBytes(data);
      assertEquals(IoStatus.OK, new BlockIo(d).write(8, data));
      assertArrayEquals(data, new BlockIo(copy).read(8, data.length),
          "the copy must see the same data");
    }
  }

  @Test
  void tableStatusPrintsTheTableItWasBuiltFromAtAnyStart() throws Exception {
    String built = normalized(table(devices));
    assertEquals(built, create(DUT).table(), "TABLE status must print the table as built");
    // The same segments after an 8-sector segment of the kit's own, so none starts at 0.
    StringBuilder shifted = new StringBuilder("0 8 kit-spy ")
        .append(dir.resolve("backing-0.img"));
    for (String line : built.split("\n")) {
      String[] w = line.split(" ", 3);
      shifted.append('\n').append(Long.parseLong(w[0]) + 8).append(' ').append(w[1]).append(' ')
          .append(w[2]);
    }
    MappedDevice moved = mapper.create("kit-moved", shifted.toString(), false);
    assertEquals(shifted.toString(), moved.table(), "TABLE status at a non-zero start");
  }

  @Test
  void everyRequestCompletesExactlyOnce() throws Exception {
    MappedDevice d = create(DUT);
    long size = d.sizeInSectors();
    Random rnd = new Random(3);
    int n = 200;
    AtomicInteger[] calls = new AtomicInteger[n];
    java.util.concurrent.CountDownLatch all = new java.util.concurrent.CountDownLatch(n);
    for (int i = 0; i < n; i++) {
      AtomicInteger c = calls[i] = new AtomicInteger();
      int sectors = 1 + rnd.nextInt(64);
      long sector = (long) (rnd.nextDouble() * (size - sectors));
      dev.jdm.spi.IoOp op = switch (i % 3) {
        case 0 -> dev.jdm.spi.IoOp.WRITE;
        case 1 -> dev.jdm.spi.IoOp.READ;
        default -> dev.jdm.spi.IoOp.FLUSH;
      };
      int bytes = op == dev.jdm.spi.IoOp.FLUSH ? 0 : sectors * 512;
      java.nio.ByteBuffer buf = bytes == 0 ? null : java.nio.ByteBuffer.allocateDirect(bytes);
      d.submit(new dev.jdm.spi.IoRequest().prepare(op, 0, sector, bytes, buf, 0, r -> {
        c.incrementAndGet();
        all.countDown();
      }));
    }
    assertTrue(all.await(1, java.util.concurrent.TimeUnit.MINUTES), "requests did not complete");
    Thread.sleep(1000);
    for (int i = 0; i < n; i++) {
      assertEquals(1, calls[i].get(), "request " + i + " completions");
    }
  }

  /** {@code text}'s table lines with single spaces, as TABLE status prints them. */
  private static String normalized(String text) {
    return text.lines().map(String::strip).filter(l -> !l.isEmpty())
        .map(l -> l.replaceAll("\\s+", " ")).collect(java.util.stream.Collectors.joining("\n"));
  }

  @Test
  void badTablesFailWithOneLineAndLeaveNothingOpen() {
    List<String> bad = invalidTables(devices);
    assertFalse(bad.isEmpty(), "give at least one table the constructor refuses");
    int before = mapper.openBackingDevices();
    for (String table : bad) {
      DmException e = assertThrows(DmException.class, () -> mapper.create("kit-bad", table, false),
          "must be refused: " + table);
      String m = e.getMessage();
      assertFalse(m.contains("\n"), "error must be one line: " + m);
      assertTrue(m.startsWith("kit-bad: "), "error must name the device: " + m);
      String type = table.strip().split("\\s+")[2];
      assertTrue(m.contains(": " + type + ": "), "error must name the target: " + m);
      assertEquals(before, mapper.openBackingDevices(), "refused table left a device open: " + m);
      assertTrue(mapper.find("kit-bad").isEmpty());
    }
  }

  @Test
  void flushReachesEveryDeviceTheTableUses() throws Exception {
    MappedDevice d = create(DUT);
    List<String> used = devices.stream().filter(p -> d.table().contains(p)).toList();
    List<Integer> before = used.stream().map(this::flushesOf).toList();
    assertEquals(IoStatus.OK, new BlockIo(d).flush());
    for (int i = 0; i < used.size(); i++) {
      assertTrue(flushesOf(used.get(i)) > before.get(i), "FLUSH did not reach " + used.get(i));
    }
  }

  private int flushesOf(String mapperPath) {
    String file = dir.resolve("backing-" + mapperPath.substring(mapperPath.lastIndexOf('-') + 1)
        + ".img").toString();
    AtomicInteger n = spies.flushesByPath.get(file);
    return n == null ? 0 : n.get();
  }

  @Test
  void removingTheDeviceClosesWhatItOpened() throws Exception {
    int before = mapper.openBackingDevices();
    MappedDevice d = create(DUT);
    if (behaviour() != Behaviour.FAILS_IO) {
      assertEquals(IoStatus.OK, new BlockIo(d).write(0, new byte[512]));
    }
    mapper.remove(DUT, false);
    assertEquals(before, mapper.openBackingDevices());
    for (MappedDevice spy : mapper.list()) {
      assertEquals(0, spy.info().openCount(), spy.name() + " is still held open");
    }
  }

  /** Sectors where segments meet, where the test aims writes to straddle them. */
  private static List<Long> boundaries(MappedDevice d) {
    List<Long> edges = new ArrayList<>();
    for (String line : d.table().split("\n")) {
      long start = Long.parseLong(line.split(" ")[0]);
      if (start > 0) {
        edges.add(start);
      }
    }
    return edges;
  }

  /** Makes a sparse file of {@code sectors} sectors in the test's temp dir. */
  protected Path sparseFile(String name, long sectors) throws IOException {
    Path f = dir.resolve(name);
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.setLength(sectors * 512);
    }
    return f;
  }
}
