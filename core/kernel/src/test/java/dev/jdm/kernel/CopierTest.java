package dev.jdm.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.CopyJob;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.Region;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The copier through a test target, as a mirror's resync would use it: on real files (in
 * /dev/shm when there is one, so a GiB copies at memory speed), with progress in the target's
 * status, the throttle measured, and read and write failures from a jdm device that fails all I/O.
 */
class CopierTest {
  private static final long GIB = 1L << 30;
  private static final long MIB = 1L << 20;
  Path dir;
  ServiceFixture f;

  @BeforeEach
  void setUp() throws Exception {
    Path shm = Path.of("/dev/shm");
    dir = Files.isDirectory(shm) && Files.isWritable(shm)
        ? Files.createTempDirectory(shm, "jdm-copier-")
        : Files.createTempDirectory("jdm-copier-");
    f = new ServiceFixture();
    f.dm.create("bad", "0 2097152 kill", false);
  }

  @AfterEach
  void tearDown() throws IOException {
    f.close();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  /** A sparse file of {@code bytes} with random 4 KiB blocks at a few places and at its end. */
  private Path source(String name, long bytes) throws IOException {
    Path p = ServiceFixture.sparse(dir.resolve(name), bytes);
    Random rnd = new Random(bytes);
    byte[] block = new byte[4096];
    try (RandomAccessFile r = new RandomAccessFile(p.toFile(), "rw")) {
      for (int i = 0; i < 64; i++) {
        rnd.nextBytes(block);
        r.seek(i == 0 ? bytes - block.length : (rnd.nextLong(bytes) & ~4095L));
        r.write(block);
      }
    }
    return p;
  }

  private static long sectors(long bytes) {
    return bytes >>> IoRequest.SECTOR_SHIFT;
  }

  /** Polls the device's status until the copy ends; returns every status seen. */
  private List<String> follow(String device, ProbeTarget t) throws Exception {
    List<String> seen = new ArrayList<>();
    while (!t.ended.isDone()) {
      seen.add(f.dm.get(device).status());
      Thread.sleep(50);
    }
    return seen;
  }

  @Test
  void copiesAGibibyteWithProgressInStatusAndHoldsTheThrottle() throws Exception {
    Path src = source("src.img", GIB);
    Path dst = ServiceFixture.sparse(dir.resolve("dst.img"), GIB);
    long total = sectors(GIB);
    ProbeTarget t = f.probe("resync", total, src, dst);
    // Slow enough that a loaded two-CPU machine still copies faster than the throttle.
    long rate = 128 * MIB;
    f.dm.message("resync", 0, List.of("rate", Long.toString(rate)));
    assertEquals(rate, t.ctx.copier().rate());
    long start = System.nanoTime();
    f.dm.message("resync", 0, List.of("copy"));
    List<String> seen = follow("resync", t);
    long elapsed = System.nanoTime() - start;
    assertEquals("false 0 false", t.ended.get());
    List<Long> done = seen.stream().map(CopierTest::sectorsDone).toList();
    assertTrue(done.stream().anyMatch(d -> d > 0 && d < total), "no progress seen: " + seen);
    assertEquals(done.stream().sorted().toList(), done, "progress went back");
    assertEquals("0 " + total + " probe " + total + "/" + total, f.dm.get("resync").status());
    double expected = (double) GIB / rate;
    double seconds = elapsed / 1e9;
    System.out.printf("copier: 1 GiB at a throttle of %d MiB/s took %.2f s (%.1f MiB/s;"
        + " expected %.2f s), %d statuses seen on the way%n", rate / MIB, seconds,
        GIB / MIB / seconds, expected, seen.size());
    assertTrue(Math.abs(seconds - expected) <= 0.2 * expected,
        "took " + seconds + " s, expected " + expected + " s +-20%");
    assertEquals(-1, Files.mismatch(src, dst));
  }

  /** The sectors done in a probe's status line {@code 0 LEN probe DONE/TOTAL}. */
  private static long sectorsDone(String status) {
    return Long.parseLong(status.split(" ")[3].split("/")[0]);
  }

  private static boolean midway(String status, long total) {
    long done = sectorsDone(status);
    return done > 0 && done < total;
  }

  @Test
  void unthrottledCopyToTwoDestinations() throws Exception {
    long size = 256 * MIB;
    Path src = source("src.img", size);
    Path d1 = ServiceFixture.sparse(dir.resolve("d1.img"), size);
    Path d2 = ServiceFixture.sparse(dir.resolve("d2.img"), size);
    ProbeTarget t = f.probe("fast", sectors(size), src, d1, d2);
    long start = System.nanoTime();
    f.dm.message("fast", 0, List.of("copy"));
    assertEquals("false 0 false", t.ended.get(60, TimeUnit.SECONDS));
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf("copier: 256 MiB to two destinations unthrottled took %.2f s (%.0f MiB/s"
        + " read, %.0f MiB/s written)%n", seconds, size / MIB / seconds,
        2 * size / MIB / seconds);
    assertEquals(-1, Files.mismatch(src, d1));
    assertEquals(-1, Files.mismatch(src, d2));
  }

  /** Starts a throttled copy of 64 MiB on a new device {@code name}. */
  private ProbeTarget slowCopy(String name, long rate) throws Exception {
    ProbeTarget t = f.probe(name, sectors(64 * MIB), source(name + ".src", 64 * MIB),
        ServiceFixture.sparse(dir.resolve(name + ".dst"), 64 * MIB));
    f.dm.message(name, 0, List.of("rate", Long.toString(rate)));
    f.dm.message(name, 0, List.of("copy"));
    return t;
  }

  @Test
  void rateChangesApplyToARunningJob() throws Exception {
    long start = System.nanoTime();
    ProbeTarget t = slowCopy("live", 4 * MIB);
    Thread.sleep(500);
    assertTrue(midway(f.dm.get("live").status(), sectors(64 * MIB)));
    f.dm.message("live", 0, List.of("rate", "0"));
    assertEquals("false 0 false", t.ended.get(10, TimeUnit.SECONDS));
    // At 4 MiB/s the copy would take 16 s.
    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5));
    assertEquals(-1, Files.mismatch(dir.resolve("live.src"), dir.resolve("live.dst")));
  }

  @Test
  void cancelStopsAfterTheChunksInFlight() throws Exception {
    ProbeTarget t = slowCopy("stop", 8 * MIB);
    Thread.sleep(300);
    long start = System.nanoTime();
    f.dm.message("stop", 0, List.of("cancel"));
    assertEquals("false 0 true", t.ended.get(5, TimeUnit.SECONDS));
    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(2));
    assertTrue(t.job.finished());
    long done = t.job.sectorsDone();
    assertTrue(done > 0 && done < sectors(64 * MIB), done + " sectors");
    Thread.sleep(200);
    assertEquals(done, t.job.sectorsDone());
  }

  @Test
  void aReadErrorStopsTheJob() throws Exception {
    Path dst = ServiceFixture.sparse(dir.resolve("dst.img"), 16 * MIB);
    ProbeTarget t = f.probe("readfail", sectors(16 * MIB), "/dev/mapper/bad", dst);
    f.dm.message("readfail", 0, List.of("copy"));
    assertEquals("true 0 false", t.ended.get(10, TimeUnit.SECONDS));
    assertEquals(0, t.job.sectorsDone());
  }

  @Test
  void aWriteErrorMarksItsDestinationAndTheOthersGoOn() throws Exception {
    Path src = source("src.img", 16 * MIB);
    Path dst = ServiceFixture.sparse(dir.resolve("dst.img"), 16 * MIB);
    ProbeTarget t = f.probe("legfail", sectors(16 * MIB), src, "/dev/mapper/bad", dst);
    f.dm.message("legfail", 0, List.of("copy"));
    assertEquals("false 1 false", t.ended.get(10, TimeUnit.SECONDS));
    assertEquals(sectors(16 * MIB), t.job.sectorsDone());
    assertEquals(-1, Files.mismatch(src, dst));
  }

  @Test
  void zeroingWritesZerosWithOrWithoutWriteZeroes() throws Exception {
    Path a = source("a.img", 8 * MIB);
    Path b = source("b.img", 8 * MIB);
    ProbeTarget t = f.probe("zeroes", sectors(8 * MIB), a, b);
    f.dm.message("zeroes", 0, List.of("zero"));
    assertEquals("false 0 false", t.ended.get(10, TimeUnit.SECONDS));
    assertArrayEquals(new byte[(int) (8 * MIB)], Files.readAllBytes(b));
    // A device that cannot WRITE_ZEROES gets zeros written.
    Path c = source("c.img", 8 * MIB);
    f.dm.create("plain", "0 " + sectors(8 * MIB) + " probe " + c, false);
    // As a device that does READ, WRITE and FLUSH only.
    BlockDevice plain = new WatchedDevice(f.dm.get("plain"), r -> { },
        op -> op.hasData() || op == IoOp.FLUSH);
    CompletableFuture<String> done = new CompletableFuture<>();
    CopyJob job = t.ctx.copier().zero(new Region[] {new Region(plain, 0, sectors(8 * MIB))}, 1,
        (readFailed, mask, cancelled) -> done.complete(readFailed + " " + mask + " " + cancelled));
    assertEquals("false 0 false", done.get(10, TimeUnit.SECONDS));
    assertEquals(sectors(8 * MIB), job.sectorsDone());
    assertArrayEquals(new byte[(int) (8 * MIB)], Files.readAllBytes(c));
  }
}
