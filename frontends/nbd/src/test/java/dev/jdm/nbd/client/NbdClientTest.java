package dev.jdm.nbd.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.testkit.BlockIo;
import dev.jdm.testkit.Nbdkit;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The NBD client of remote backing devices, request by request, against nbdkit (its memory and
 * file plugins; its delay, error, blocksize-policy, fua, log and multi-conn filters to shape the
 * server) and against a server that answers garbage.
 */
@Timeout(300)
class NbdClientTest {
  private static final int HOLE_ZERO = ExtentSink.HOLE | ExtentSink.ZERO;
  @TempDir Path dir;

  static NbdClientOptions options(int connections, Duration reconnectTimeout) {
    return new NbdClientOptions(connections, 64, Duration.ofSeconds(10), reconnectTimeout,
        Duration.ofMillis(50), Duration.ofMillis(500), null, null, null);
  }

  private static NbdDevice open(Nbdkit kit, int connections) throws IOException {
    return NbdDevice.open(NbdUri.parse(kit.uri()), options(connections, Duration.ofSeconds(30)));
  }

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  @Test
  void readsWhatItWroteOnEveryConnectionAndReportsHoles() throws Exception {
    try (Nbdkit kit = Nbdkit.start(dir, "mem", List.of("memory", "64M"));
        NbdDevice d = open(kit, 4)) {
      assertEquals(131072, d.sizeInSectors());
      assertEquals("connected, 4 connection(s)", d.state());
      assertTrue(d.supports(IoOp.DISCARD) && d.supports(IoOp.WRITE_ZEROES));
      BlockIo io = new BlockIo(d);
      // More requests than connections, so each connection carries some.
      for (int i = 0; i < 16; i++) {
        byte[] data = random(64 << 10, i);
        assertEquals(IoStatus.OK, io.write(8192 + i * 128L, data));
        assertArrayEquals(data, io.read(8192 + i * 128L, data.length));
      }
      List<String> extents = new ArrayList<>();
      d.blockStatus(0, 131072, (n, f) -> extents.add(n + ":" + f));
      assertEquals(List.of("8192:" + HOLE_ZERO, "2048:0", "120832:" + HOLE_ZERO), extents);

      assertEquals(IoStatus.OK, io.run(IoOp.WRITE_ZEROES, 0, 8192, 512 << 10, null));
      assertArrayEquals(new byte[512 << 10], io.read(8192, 512 << 10));
      assertEquals(IoStatus.OK, io.run(IoOp.DISCARD, 0, 9216, 512 << 10, null));
      assertEquals(IoStatus.OK, io.flush());
    }
  }

  @Test
  void pipelinesOnOneConnectionAndCompletesOutOfOrder() throws Exception {
    try (Nbdkit kit = Nbdkit.start(dir, "slow", List.of("--filter=delay", "memory", "64M",
        "delay-read=700ms"));
        NbdDevice d = open(kit, 1)) {
      ConcurrentLinkedQueue<IoOp> order = new ConcurrentLinkedQueue<>();
      CountDownLatch done = new CountDownLatch(2);
      ByteBuffer rb = ByteBuffer.allocateDirect(4096);
      ByteBuffer wb = ByteBuffer.allocateDirect(4096);
      IoRequest read = new IoRequest().prepare(IoOp.READ, 0, 0, 4096, rb, 0, r -> {
        order.add(r.op());
        done.countDown();
      });
      IoRequest write = new IoRequest().prepare(IoOp.WRITE, 0, 8, 4096, wb, 0, r -> {
        order.add(r.op());
        done.countDown();
      });
      d.submit(read);
      d.submit(write);
      assertTrue(done.await(30, TimeUnit.SECONDS));
      assertEquals(List.of(IoOp.WRITE, IoOp.READ), List.copyOf(order));
      assertEquals(IoStatus.OK, read.status());
      assertEquals(IoStatus.OK, write.status());
    }
  }

  @Test
  void serverErrorsBecomeTheRequestsStatus() throws Exception {
    try (Nbdkit kit = Nbdkit.start(dir, "err", List.of("--filter=error", "memory", "64M",
        "error-pread=EIO", "error-pread-rate=1", "error-pwrite=ENOSPC",
        "error-pwrite-rate=1"));
        NbdDevice d = open(kit, 2)) {
      BlockIo io = new BlockIo(d);
      assertEquals(IoStatus.EIO, io.readStatus(0, 4096));
      assertEquals(IoStatus.ENOSPC, io.write(0, new byte[4096]));
      assertEquals(IoStatus.OK, io.flush());
      assertTrue(d.state().startsWith("connected"), d.state());
    }
  }

  @Test
  void honoursTheServersBlockSizes() throws Exception {
    try (Nbdkit kit = Nbdkit.start(dir, "bs", List.of("--filter=blocksize-policy", "memory",
        "64M", "blocksize-minimum=4096", "blocksize-preferred=65536",
        "blocksize-maximum=65536", "blocksize-error-policy=error"));
        NbdDevice d = open(kit, 1)) {
      assertEquals(new IoLimits(4096, 65536, 0), d.limits());
      BlockIo io = new BlockIo(d);
      byte[] data = random(3 << 20, 7);
      // 3 MiB goes out as 48 commands of 64 KiB.
      assertEquals(IoStatus.OK, io.write(2048, data));
      assertArrayEquals(data, io.read(2048, data.length));
      assertEquals(IoStatus.EINVAL, io.readStatus(1, 4096));
    }
  }

  @Test
  void emulatesFuaWithAFlushAndFlushesBeforeAPreflushWrite() throws Exception {
    Path log = dir.resolve("commands.log");
    try (Nbdkit kit = Nbdkit.start(dir, "fua", List.of("--filter=log", "--filter=fua",
        "memory", "64M", "logfile=" + log));
        NbdDevice d = open(kit, 1)) {
      BlockIo io = new BlockIo(d);
      ByteBuffer b = ByteBuffer.allocateDirect(4096);
      assertEquals(IoStatus.OK, io.run(IoOp.WRITE, IoRequest.FUA, 0, 4096, b));
      assertEquals(IoStatus.OK, io.run(IoOp.WRITE, IoRequest.PREFLUSH, 8, 4096, b));
    }
    List<String> commands = new ArrayList<>();
    for (String line : Files.readAllLines(log)) {
      for (String c : List.of("Write", "Flush")) {
        if (line.contains(" " + c + " id=")) {
          commands.add(c);
        }
      }
    }
    assertEquals(List.of("Write", "Flush", "Flush", "Write"), commands, String.join("\n",
        Files.readAllLines(log)));
  }

  @Test
  void usesOneConnectionWithoutMultiConn() throws Exception {
    try (Nbdkit kit = Nbdkit.start(dir, "single", List.of("--filter=multi-conn", "memory",
        "64M", "multi-conn-mode=disable"));
        NbdDevice d = open(kit, 4)) {
      assertEquals("connected, 1 connection(s)", d.state());
    }
  }

  @Test
  void reconnectsAndResendsWhatWasInFlightWhenTheServerIsKilled() throws Exception {
    Path file = dir.resolve("disk.img");
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(64 << 20);
    }
    try (Nbdkit kit = Nbdkit.start(dir, "file", List.of("file", file.toString()));
        NbdDevice d = open(kit, 2)) {
      int writers = 8;
      AtomicInteger failures = new AtomicInteger();
      AtomicInteger rounds = new AtomicInteger();
      List<Thread> threads = new ArrayList<>();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
      for (int t = 0; t < writers; t++) {
        int region = t;
        threads.add(Thread.ofPlatform().start(() -> {
          BlockIo io = new BlockIo(d);
          for (int i = 0; System.nanoTime() < deadline; i++) {
            byte[] data = random(64 << 10, region * 1000L + i);
            long sector = region * 16384L + (i % 128) * 128L;
            if (io.write(sector, data) != IoStatus.OK) {
              failures.incrementAndGet();
            } else if (!java.util.Arrays.equals(data, io.read(sector, data.length))) {
              failures.incrementAndGet();
            }
            rounds.incrementAndGet();
          }
        }));
      }
      Thread.sleep(1000);
      kit.kill();
      long noticed = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!d.state().startsWith("reconnecting") && System.nanoTime() < noticed) {
        Thread.sleep(20);
      }
      assertTrue(d.state().startsWith("reconnecting"), d.state());
      Thread.sleep(500);
      kit.start();
      for (Thread t : threads) {
        t.join();
      }
      assertEquals(0, failures.get(), "failed or wrong requests among " + rounds.get());
      awaitConnected(d);
    }
  }

  @Test
  void failsWaitingRequestsAfterTheReconnectTimeoutAndWorksWhenTheServerIsBack()
      throws Exception {
    try (Nbdkit kit = Nbdkit.start(dir, "gone", List.of("memory", "64M"));
        NbdDevice d = NbdDevice.open(NbdUri.parse(kit.uri()), options(2, Duration.ofSeconds(2)))) {
      BlockIo io = new BlockIo(d);
      assertEquals(IoStatus.OK, io.write(0, new byte[4096]));
      kit.kill();
      long start = System.nanoTime();
      assertEquals(IoStatus.EIO, io.readStatus(0, 4096));
      long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertTrue(waited >= 1000 && waited < 15_000, "waited " + waited + " ms");
      assertTrue(d.state().startsWith("failed"), d.state());
      start = System.nanoTime();
      assertEquals(IoStatus.EIO, io.readStatus(0, 4096));
      assertTrue(System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(1000),
          "a request while failed must fail at once");
      kit.start();
      awaitConnected(d);
      assertArrayEquals(new byte[4096], io.read(0, 4096));
    }
  }

  @Test
  void aServerAnsweringGarbageIsDroppedWithOneLineAndItsRequestsFail() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(NbdDevice.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    try (GarbageServer bad = new GarbageServer(dir.resolve("bad.sock"));
        Nbdkit kit = Nbdkit.start(dir, "good", List.of("memory", "64M"));
        NbdDevice good = open(kit, 1);
        NbdDevice d = NbdDevice.open(NbdUri.parse(bad.uri()), options(1, Duration.ofSeconds(5)))) {
      assertEquals(IoStatus.EIO, new BlockIo(d).readStatus(0, 4096));
      List<String> warnings = Collections.synchronizedList(new ArrayList<>());
      for (ILoggingEvent e : List.copyOf(lines.list)) {
        if (e.getLevel().isGreaterOrEqual(ch.qos.logback.classic.Level.WARN)) {
          warnings.add(e.getFormattedMessage());
        }
      }
      assertEquals(1, warnings.size(), warnings.toString());
      assertTrue(warnings.getFirst().contains(bad.uri()) && warnings.getFirst().contains("garbage")
          && warnings.getFirst().contains("unknown magic 0xdededede"), warnings.getFirst());
      // The other device does not notice.
      BlockIo io = new BlockIo(good);
      assertEquals(IoStatus.OK, io.write(0, new byte[4096]));
      assertEquals(IoStatus.OK, io.readStatus(0, 4096));
    } finally {
      logger.detachAppender(lines);
    }
  }

  @Test
  void refusesWhatCannotBeOpenedWithAShortReason() throws Exception {
    IOException refused = assertThrows(IOException.class, () -> NbdDevice.open(
        NbdUri.parse("nbd+unix:///?socket=" + dir.resolve("nobody.sock")),
        options(1, Duration.ofSeconds(1))));
    assertTrue(refused.getMessage() != null, refused.toString());
    try (Nbdkit kit = Nbdkit.start(dir, "named", List.of("--filter=exportname", "memory", "1M",
        "exportname=one", "exportname-strict=true"))) {
      IOException none = assertThrows(IOException.class, () -> NbdDevice.open(
          NbdUri.parse("nbd+unix:///two?socket=" + kit.socket()), options(1,
              Duration.ofSeconds(1))));
      assertTrue(none.getMessage().contains("no export 'two'"), none.getMessage());
      IOException tls = assertThrows(IOException.class, () -> NbdDevice.open(
          NbdUri.parse("nbds+unix:///one?socket=" + kit.socket()), options(1,
              Duration.ofSeconds(1))));
      assertTrue(tls.getMessage().contains("STARTTLS"), tls.getMessage());
    }
  }

  static void awaitConnected(NbdDevice d) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!d.state().startsWith("connected") && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertTrue(d.state().startsWith("connected"), d.state());
  }

  /** A completion that can be waited for. */
  static CompletableFuture<IoStatus> submit(NbdDevice d, IoRequest r, IoOp op, long sector,
      ByteBuffer b) {
    CompletableFuture<IoStatus> f = new CompletableFuture<>();
    d.submit(r.prepare(op, 0, sector, b.capacity(), b, 0, x -> f.complete(x.status())));
    return f;
  }
}
