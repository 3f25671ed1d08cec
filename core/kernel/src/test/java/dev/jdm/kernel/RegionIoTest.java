package dev.jdm.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceIo;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.Region;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** dm-io through a target's context onto real files and a failing jdm device. */
class RegionIoTest {
  @TempDir Path dir;
  ServiceFixture f;
  Path a;
  Path b;
  ProbeTarget t;
  DeviceIo io;

  @BeforeEach
  void setUp() throws Exception {
    f = new ServiceFixture();
    a = ServiceFixture.sparse(dir.resolve("a.img"), 1 << 20);
    b = ServiceFixture.sparse(dir.resolve("b.img"), 1 << 20);
    f.dm.create("bad", "0 2048 kill", false);
    t = f.probe("mirror", 2048, a, b, "/dev/mapper/bad");
    io = t.ctx.io();
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  private record Result(long mask, IoStatus first) {}

  private Result submit(IoOp op, int flags, Region[] regions, ByteBuffer data) throws Exception {
    CompletableFuture<Result> r = new CompletableFuture<>();
    io.submit(op, flags, regions, regions.length, data, 0,
        (mask, first) -> r.complete(new Result(mask, first)));
    return r.get(10, TimeUnit.SECONDS);
  }

  private static byte[] bytesAt(Path file, long offset, int length) throws Exception {
    byte[] out = new byte[length];
    try (RandomAccessFile r = new RandomAccessFile(file.toFile(), "r")) {
      r.seek(offset);
      r.readFully(out);
    }
    return out;
  }

  @Test
  void writeToThreeRegionsWithOneFailingDeviceSetsItsBit() throws Exception {
    BlockDevice bad = t.copyTo.get(1);
    byte[] data = new byte[64 * 1024];
    new Random(7).nextBytes(data);
    ByteBuffer buf = ByteBuffer.allocateDirect(data.length).put(0, data);
    Region[] three = {
        new Region(t.dev, 16, 128), new Region(bad, 16, 128), new Region(t.copyTo.get(0), 32, 128)};
    assertEquals(new Result(0b010, IoStatus.EIO), submit(IoOp.WRITE, IoRequest.FUA, three, buf));
    assertArrayEquals(data, bytesAt(a, 16 * 512, data.length));
    assertArrayEquals(data, bytesAt(b, 32 * 512, data.length));
    // The blocking form gives the same mask; a heap buffer works as well.
    ByteBuffer heap = ByteBuffer.wrap(data.clone());
    assertEquals(0b010, io.run(IoOp.WRITE, 0, three, 3, heap, 0));
    // Read one region back, and from the failing one.
    ByteBuffer back = ByteBuffer.allocateDirect(data.length);
    assertEquals(0, io.run(IoOp.READ, 0, new Region[] {three[2]}, 1, back, 0));
    byte[] got = new byte[data.length];
    back.get(0, got);
    assertArrayEquals(data, got);
    assertEquals(0b1, io.run(IoOp.READ, 0, new Region[] {three[1]}, 1, back, 0));
  }

  @Test
  void regionsOutsideTheirDeviceFailAloneAndBadCallsThrow() throws Exception {
    ByteBuffer buf = ByteBuffer.allocateDirect(4096);
    Region[] regions = {new Region(t.dev, 2047, 8), new Region(t.copyTo.get(0), 0, 8)};
    assertEquals(new Result(0b01, IoStatus.ENOSPC), submit(IoOp.WRITE, 0, regions, buf));
    assertEquals(1L << 1, io.run(IoOp.WRITE, 0,
        new Region[] {new Region(t.dev, 0, 8), new Region(t.dev, 0, 4)}, 2, buf, 0));
    assertThrows(IllegalArgumentException.class,
        () -> io.run(IoOp.READ, 0, regions, 2, buf, 0));
    assertThrows(IllegalArgumentException.class,
        () -> io.run(IoOp.WRITE, 0, regions, 0, buf, 0));
    assertThrows(IllegalArgumentException.class,
        () -> io.run(IoOp.WRITE, 0, regions, 1, null, 0));
  }

  @Test
  void flushDiscardAndWriteZeroesActOnEachRegion() throws Exception {
    byte[] ones = new byte[8192];
    Arrays.fill(ones, (byte) 1);
    Files.write(a, ones);
    Region[] both = {new Region(t.dev, 0, 16), new Region(t.copyTo.get(0), 0, 16)};
    assertEquals(0, io.run(IoOp.FLUSH, 0, both, 2, null, 0));
    assertEquals(0, io.run(IoOp.WRITE_ZEROES, 0, both, 1, null, 0));
    assertArrayEquals(new byte[8192], bytesAt(a, 0, 8192));
    Files.write(a, ones);
    assertEquals(0, io.run(IoOp.DISCARD, 0, both, 1, null, 0));
    assertArrayEquals(new byte[8192], bytesAt(a, 0, 8192));
    // The kill device does FLUSH itself (nothing under it) but refuses DISCARD.
    Region[] withBad = {new Region(t.dev, 0, 16), new Region(t.copyTo.get(1), 0, 16)};
    assertEquals(0, io.run(IoOp.FLUSH, 0, withBad, 2, null, 0));
    assertEquals(new Result(0b10, IoStatus.EOPNOTSUPP), submit(IoOp.DISCARD, 0, withBad, null));
  }

  @Test
  void aReadOnlyDeviceRefusesWrites() throws Exception {
    f.dm.create("ro", "0 16 probe " + dir.resolve("a.img"), true);
    ProbeTarget ro = f.probe.made.get("ro");
    ByteBuffer buf = ByteBuffer.allocateDirect(512);
    Region[] r = {new Region(ro.dev, 0, 1)};
    assertTrue(ro.ctx.readOnly());
    // The file itself is writable and shared with the read-write table: what counts is the device.
    assertEquals(0, ro.ctx.io().run(IoOp.READ, 0, r, 1, buf, 0));
    Region[] ronly = {new Region(f.dm.get("ro"), 0, 1)};
    assertEquals(new Result(0b1, IoStatus.EPERM), submit(IoOp.WRITE, 0, ronly, buf));
  }
}
