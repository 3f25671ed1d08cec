package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.ExternalTools;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tables name devices by their numbers, as the kernel prints them in every {@code dmsetup table}:
 * {@code 7:N} for a loop device, {@code 253:N} for a jdm device.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class DeviceNumbersTest {
  @TempDir Path tmp;

  @Test
  void majorMinorNamesABlockDeviceOrAJdmDevice() throws Exception {
    Path img = tmp.resolve("loop.img");
    try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
      f.setLength(8 << 20);
    }
    try (ExternalTools tools = new ExternalTools(tmp)) {
      String loop = tools.ok(List.of("losetup", "-f", "--show", img.toString()), 60).strip();
      try (InProcessDaemon d = InProcessDaemon.start(tmp, "")) {
        String numbers = Files.readString(Path.of("/sys/class/block",
            Path.of(loop).getFileName().toString(), "dev")).strip();
        d.jdm("create", "onloop", "--table", "0 16384 linear " + numbers + " 0").ok();
        assertEquals("0 16384 linear " + numbers + " 0\n", d.jdm("table", "onloop").ok());
        String minor = d.jdm("ls").ok().replaceAll("(?s).*onloop\t\\(253:(\\d+)\\).*", "$1");
        d.jdm("create", "upper", "--table", "0 8192 linear 253:" + minor + " 8192").ok();
        assertTrue(d.jdm("info", "onloop").ok().contains("Open count:        1\n"));
        assertEquals("jdm: bad: linear: Device lookup failed: 253:999: no such jdm device"
            + " (line 1)", d.jdm("create", "bad", "--table", "0 8 linear 253:999 0").failed());
        assertEquals("jdm: bad: linear: Device lookup failed: 7:99999: no such block device"
            + " (line 1)", d.jdm("create", "bad", "--table", "0 8 linear 7:99999 0").failed());
      } finally {
        tools.run(List.of("losetup", "-d", loop), 60);
      }
    }
  }
}
