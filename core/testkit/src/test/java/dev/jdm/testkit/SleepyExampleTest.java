package dev.jdm.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.TargetType;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The delay example of AUTHORING.md, compiled from its source as a plugin author would, driven by
 * the harness on a clock moved by hand: nothing reaches the disk before its delay, FLUSH waits its
 * turn, and a suspend sends what is held.
 */
class SleepyExampleTest {
  @TempDir Path dir;

  private TargetType sleepyType() throws Exception {
    String code = Files.readString(Path.of("../spi/examples/sleepy/SleepyTarget.java"));
    Path jar = new PluginJar("sleepy", "1.0.0")
        .source("org.example.sleepy.SleepyTarget", code)
        .service("org.example.sleepy.SleepyTarget$Type")
        .writeTo(dir);
    URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()},
        getClass().getClassLoader());
    return (TargetType) loader.loadClass("org.example.sleepy.SleepyTarget$Type")
        .getConstructor().newInstance();
  }

  @Test
  void requestsWaitForTheirDelayOnTheScheduler() throws Exception {
    TestTargetContext ctx = new TestTargetContext();
    MemoryDevice disk = ctx.add(new MemoryDevice("/dev/a", 2048));
    try (TargetHarness h = TargetHarness.create(sleepyType(), ctx, 1024, "/dev/a 16 100")) {
      byte[] data = new byte[4096];
      java.util.Arrays.fill(data, (byte) 7);
      CompletableFuture<IoStatus> write = h.start(IoOp.WRITE, 8, data);
      ctx.scheduler().advance(99_000_000L);
      assertFalse(write.isDone(), "held for 100 ms");
      assertArrayEquals(new byte[4096], disk.sectors(24, 8));
      CompletableFuture<IoStatus> flush = h.start(IoOp.FLUSH, 0, null);
      ctx.scheduler().advance(1_000_000L);
      assertEquals(IoStatus.OK, write.get());
      assertArrayEquals(data, disk.sectors(24, 8), "written at offset 16 + sector 8");
      assertFalse(flush.isDone(), "the FLUSH waits its own 100 ms");
      assertEquals(0, disk.flushes());
      h.target().presuspend();
      assertEquals(IoStatus.OK, flush.get());
      assertEquals(1, disk.flushes());
      assertEquals(0, ctx.scheduler().pending());
      assertEquals("/dev/a 16 100", h.target().status(dev.jdm.spi.StatusType.TABLE));
      assertTrue(ctx.opened().contains("/dev/a"));
    }
  }
}
