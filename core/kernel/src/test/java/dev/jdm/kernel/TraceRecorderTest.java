package dev.jdm.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraceRecorderTest {
  private static final Duration DRAIN = Duration.ofMillis(5);

  @TempDir Path dir;
  DeviceMapper dm;

  @BeforeEach
  void setUp() throws Exception {
    TargetRegistry registry = new TargetRegistry();
    registry.register(new PassTarget.Type(), "test");
    dm = new DeviceMapper(registry);
  }

  @AfterEach
  void tearDown() {
    dm.close();
  }

  @Test
  void recordsEveryRequestOfADeviceFromManyThreads() throws Exception {
    Path backing = dir.resolve("backing.img");
    try (RandomAccessFile f = new RandomAccessFile(backing.toFile(), "rw")) {
      f.setLength(4096 * 512);
    }
    MappedDevice d = dm.create("traced", "0 4096 pass " + backing + " 0 0", false);
    Path csv = dir.resolve("trace.csv");
    int threads = 4;
    int perThread = 500;
    // Room for every record in each of at most 16 stripes, so none may be dropped however slow
    // the writer is and however the threads share the stripes.
    TraceRecorder rec = TraceRecorder.toFile("traced", csv, 16 * threads * perThread, DRAIN);
    d.trace(rec);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int first = t * perThread;
        done.add(pool.submit(() -> {
          ByteBuffer buf = ByteBuffer.allocateDirect(1024);
          for (int i = first; i < first + perThread; i++) {
            IoOp op = i % 2 == 0 ? IoOp.WRITE : IoOp.READ;
            CountDownLatch end = new CountDownLatch(1);
            d.submit(new IoRequest().prepare(op, 0, i % 4000, 1024, buf, 0, r -> end.countDown()));
            end.await();
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
      d.trace(null);
      rec.close();
    }

    List<String> lines = Files.readAllLines(csv);
    assertEquals(TraceRecorder.HEADER, lines.getFirst());
    assertEquals(0, rec.dropped());
    assertEquals(threads * perThread, rec.recorded());
    assertEquals(rec.recorded(), lines.size() - 1);
    Set<String> rows = new HashSet<>();
    for (String l : lines.subList(1, lines.size())) {
      String[] c = l.split(",", -1);
      assertEquals(6, c.length, l);
      assertTrue(Long.parseLong(c[0]) >= 0, l);
      assertTrue(Double.parseDouble(c[4]) >= 0, l);
      assertEquals("1024", c[3], l);
      assertEquals("OK", c[5], l);
      rows.add(c[1] + "," + c[2]);
    }
    for (int i = 0; i < threads * perThread; i++) {
      assertTrue(rows.contains((i % 2 == 0 ? "write" : "read") + "," + i % 4000), "row " + i);
    }
    assertEquals("rw-------",
        PosixFilePermissions.toString(Files.getPosixFilePermissions(csv)));
  }

  @Test
  void writesEachColumnAsDocumented() throws Exception {
    Capture out = new Capture(null);
    long t0 = System.nanoTime();
    TraceRecorder rec = new TraceRecorder("d", out, 8, DRAIN);
    rec.completed(t0 + 5_000_000_000L, IoOp.WRITE_ZEROES, 123456789012L, 1 << 20, 1_234_567,
        IoStatus.EIO);
    rec.completed(t0 + 6_000_000_000L, IoOp.FLUSH, 0, 0, 999, IoStatus.OK);
    rec.close();
    String[] lines = out.text().split("\n");
    assertEquals(TraceRecorder.HEADER, lines[0]);
    String[] a = lines[1].split(",");
    assertTrue(Long.parseLong(a[0]) > 4_900_000_000L && Long.parseLong(a[0]) <= 5_000_000_000L,
        lines[1]);
    assertEquals(List.of("write_zeroes", "123456789012", "1048576", "1234.567", "EIO"),
        List.of(a).subList(1, 6));
    assertEquals(List.of("flush", "0", "0", "0.999", "OK"),
        List.of(lines[2].split(",")).subList(1, 6));
    assertTrue(out.closed);
  }

  @Test
  void countsWhatItDropsWhenTheWriterFallsBehind() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    Capture out = new Capture(release);
    TraceRecorder rec = new TraceRecorder("slow", out, 16, DRAIN);
    int total = 1000;
    try {
      List<Thread> threads = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        threads.add(Thread.ofPlatform().start(() -> {
          for (int i = 0; i < total / 4; i++) {
            rec.completed(System.nanoTime(), IoOp.WRITE, i, 4096, 10_000, IoStatus.OK);
          }
        }));
      }
      for (Thread t : threads) {
        t.join();
      }
      // The writer is stuck on the file: besides the buffers, it holds at most what it drained
      // before its first write blocked (a few buffers-full when the threads race it).
      assertTrue(rec.dropped() >= total - 4 * rec.capacity(), "dropped " + rec.dropped());
    } finally {
      release.countDown();
      rec.close();
    }
    assertEquals(total, rec.recorded() + rec.dropped());
    assertEquals(rec.recorded() + 1, out.text().lines().count());

    rec.completed(System.nanoTime(), IoOp.READ, 0, 512, 1, IoStatus.OK);
    assertEquals(total + 1, rec.recorded() + rec.dropped(), "a record after close is counted");
  }

  @Test
  void reportsAFailingFileAndCountsTheRecordsItCouldNotWrite() throws Exception {
    Capture out = new Capture(null);
    TraceRecorder rec = new TraceRecorder("full", out, 16, DRAIN);
    out.fail = true;
    for (int i = 0; i < 100; i++) {
      rec.completed(System.nanoTime(), IoOp.WRITE, i, 4096, 10_000, IoStatus.OK);
    }
    IOException e = assertThrows(IOException.class, rec::close);
    assertEquals("full: trace file: No space left on device", e.getMessage());
    assertEquals(0, rec.recorded());
    assertEquals(100, rec.dropped());
  }

  @Test
  void refusesARingTooSmallToWork() {
    assertThrows(IllegalArgumentException.class,
        () -> new TraceRecorder("tiny", new Capture(null), 1, DRAIN));
  }

  /** A channel that keeps what it is given, can hold the writer up, and can fail. */
  private static final class Capture implements WritableByteChannel {
    private final StringBuilder text = new StringBuilder();
    private final CountDownLatch gate;
    private final AtomicInteger writes = new AtomicInteger();
    volatile boolean fail;
    volatile boolean closed;

    Capture(CountDownLatch gate) {
      this.gate = gate;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      // The header goes through at once; later writes wait for the gate.
      if (gate != null && writes.getAndIncrement() > 0) {
        try {
          gate.await();
        } catch (InterruptedException e) {
          throw new IOException(e);
        }
      }
      if (fail) {
        throw new IOException("No space left on device");
      }
      int n = src.remaining();
      byte[] b = new byte[n];
      src.get(b);
      synchronized (text) {
        text.append(new String(b, StandardCharsets.US_ASCII));
      }
      return n;
    }

    String text() {
      synchronized (text) {
        return text.toString();
      }
    }

    @Override
    public boolean isOpen() {
      return !closed;
    }

    @Override
    public void close() {
      closed = true;
    }
  }
}
