package dev.jdm.targets.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.IoStatus;
import dev.jdm.testkit.BlockIo;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 8 threads write and verify their own regions while the device is suspended, reloaded with a
 * different table over the same data (linear, then striped-equivalent linear pieces), and resumed.
 */
class SuspendUnderLoadTest {
  @TempDir Path dir;

  @Test
  void noRequestIsLostOrFailsAcrossReloads() throws Exception {
    Path f = dir.resolve("disk.img");
    try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
      r.setLength(8192 * 512);
    }
    // Two tables that map the same bytes: one segment, or four.
    String whole = "0 8192 linear " + f + " 0";
    StringBuilder pieces = new StringBuilder();
    for (int i = 0; i < 4; i++) {
      pieces.append(i * 2048).append(" 2048 linear ").append(f).append(' ').append(i * 2048)
          .append('\n');
    }
    TargetRegistry registry = new TargetRegistry();
    registry.discover(getClass().getClassLoader(), "class path");
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try (DeviceMapper dm = new DeviceMapper(registry)) {
      MappedDevice d = dm.create("busy", whole, false);
      AtomicBoolean stop = new AtomicBoolean();
      List<Future<Integer>> workers = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        long base = t * 1024L;
        int seed = t;
        workers.add(pool.submit(() -> {
          BlockIo io = new BlockIo(d);
          Random rnd = new Random(seed);
          int done = 0;
          while (!stop.get() || done < 40) {
            int sectors = 1 + rnd.nextInt(32);
            long sector = base + rnd.nextInt(1024 - sectors);
            byte[] data = new byte[sectors * 512];
            rnd.nextBytes(data);
            assertEquals(IoStatus.OK, io.write(sector, data), "write at " + sector);
            assertArrayEquals(data, io.read(sector, data.length), "read back at " + sector);
            done++;
          }
          return done;
        }));
      }
      try {
        for (int round = 0; round < 6; round++) {
          Thread.sleep(40);
          dm.suspend("busy");
          dm.load("busy", round % 2 == 0 ? pieces.toString() : whole);
          Thread.sleep(20);
          dm.resume("busy");
        }
      } finally {
        stop.set(true);
      }
      int total = 0;
      for (Future<Integer> w : workers) {
        total += w.get(2, TimeUnit.MINUTES);
      }
      assertTrue(total >= 320, "every worker finished its rounds: " + total);
      assertEquals(6, d.info().eventNumber());
      assertEquals(0, d.stats().errors());
    } finally {
      pool.shutdownNow();
    }
  }
}
