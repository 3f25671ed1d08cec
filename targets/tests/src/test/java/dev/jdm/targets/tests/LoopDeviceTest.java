package dev.jdm.targets.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.IoStatus;
import dev.jdm.testkit.BlockIo;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real block device (/dev/loopN) as a backing device: its size is read right, I/O reaches it. */
class LoopDeviceTest {
  @TempDir Path dir;

  static String run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError(String.join(" ", cmd) + " failed: " + out);
    }
    return out;
  }

  @Test
  void loopDeviceSizeAndDataAreRight() throws Exception {
    Path img = dir.resolve("loop.img");
    try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
      f.setLength(10L << 20);
    }
    String loop = run("losetup", "-f", "--show", img.toString());
    try {
      TargetRegistry registry = new TargetRegistry();
      registry.discover(getClass().getClassLoader(), "class path");
      try (DeviceMapper dm = new DeviceMapper(registry)) {
        MappedDevice whole = dm.create("onloop", "0 20480 linear " + loop + " 0", false);
        assertEquals(20480, whole.sizeInSectors());
        byte[] data = new byte[8192];
        new Random(9).nextBytes(data);
        assertEquals(IoStatus.OK, new BlockIo(whole).write(100, data));
        assertEquals(IoStatus.OK, new BlockIo(whole).flush());
        assertArrayEquals(data, new BlockIo(whole).read(100, data.length));
        var tooBig = org.junit.jupiter.api.Assertions.assertThrows(
            dev.jdm.kernel.DmException.class,
            () -> dm.create("toobig", "0 20481 linear " + loop + " 0", false));
        assertEquals("toobig: linear: ", tooBig.getMessage().substring(0, 16));
      }
      run("blockdev", "--flushbufs", loop);
      byte[] onFile = new byte[8192];
      try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "r")) {
        f.seek(100 * 512);
        f.readFully(onFile);
      }
      byte[] expected = new byte[8192];
      new Random(9).nextBytes(expected);
      assertArrayEquals(expected, onFile);
    } finally {
      run("losetup", "-d", loop);
    }
  }
}
