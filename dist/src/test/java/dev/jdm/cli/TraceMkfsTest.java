package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.IoOp;
import dev.jdm.testkit.ExternalTools;
import java.awt.image.BufferedImage;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The seed's experiment with the real tools: {@code jdm trace start} on a device, {@code mkfs.ext4}
 * formats it through the NBD frontend, {@code nbdfuse} and a loop device, {@code jdm trace stop};
 * then the CSV is read back and {@code jdm trace plot} draws it.
 */
class TraceMkfsTest {
  private static final long DEVICE_BYTES = 64L << 20;
  private static final int SUPERBLOCK_BYTE = 1024;
  private static final int WIDTH = 1000;
  private static final int HEIGHT = 700;

  @TempDir Path dir;

  @Test
  void traceOfMkfsShowsItsWritesAtTheStartOfTheDevice() throws Exception {
    Path image = dir.resolve("fs.img");
    try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(DEVICE_BYTES);
    }
    Path socket = dir.resolve("nbd.sock");
    Path csv = dir.resolve("mkfs.csv");
    String stopped;
    try (InProcessDaemon d = InProcessDaemon.start(dir, "frontends.nbd { enabled = true,"
            + " listen = [\"unix:" + socket + "\"] }\n"
            + "devices.fs.table = \"0 " + DEVICE_BYTES / 512 + " linear " + image + " 0\"");
        ExternalTools tools = new ExternalTools(dir)) {
      assertEquals(csv + "\n", d.jdm("trace", "start", "fs", "--output", csv.toString()).ok());
      mkfsThroughNbdfuse(tools, "nbd+unix:///fs?socket=" + socket);
      stopped = d.jdm("trace", "stop", "fs").ok();

      String stats = d.jdm("status", "fs").ok().lines().toList().get(1);
      assertTrue(stats.matches("stats: reads=\\d+ read_bytes=\\d+ writes=[1-9]\\d* "
          + "written_bytes=[1-9]\\d* others=\\d+ errors=0 in_flight=0 .*"), stats);
    }

    assertTrue(stopped.matches(csv + ": [1-9]\\d+ requests, \\d+ dropped\n"), stopped);
    long traced = Long.parseLong(stopped.split(" ")[1]);
    // Each stripe of the default buffer holds at least 131072 / 16 requests: fewer than that
    // cannot overflow it, however slow the writer, so none may be missing.
    assertTrue(traced < 8192, "mkfs.ext4 of 64 MiB made " + traced + " requests");
    assertTrue(stopped.endsWith(" 0 dropped\n"), stopped);
    TraceLog log = TraceLog.read(csv, TraceLog.Filter.parse(null,
        "read,write,flush,discard,write_zeroes"), ProgressBar.silent());
    assertEquals(traced, log.records(), "every line parses back");
    assertEquals(traced, log.size());
    int superblock = 0;
    int firstMib = 0;
    for (int i = 0; i < log.size(); i++) {
      if (log.op(i) == IoOp.WRITE) {
        long from = log.sector(i) * 512;
        if (from <= SUPERBLOCK_BYTE && SUPERBLOCK_BYTE < from + log.bytes(i)) {
          superblock++;
        }
        if (log.sector(i) < 2048) {
          firstMib++;
        }
      }
    }
    assertTrue(superblock > 0, "no write over the superblock at byte 1024");
    assertTrue(firstMib >= 2, "writes in the first MiB: " + firstMib);

    Path png = dir.resolve("mkfs.png");
    String plotted = InProcessDaemon.run("", "trace", "plot", csv.toString(), "-o", png.toString(),
        "--width", "" + WIDTH, "--height", "" + HEIGHT).ok();
    assertTrue(plotted.startsWith(png + ": "), plotted);
    BufferedImage img = ImageIO.read(png.toFile());
    assertEquals(WIDTH, img.getWidth());
    assertEquals(HEIGHT, img.getHeight());
    int write = TracePlot.COLOURS.get(IoOp.WRITE).getRGB() & 0xFFFFFF;
    int points = 0;
    for (int y = 0; y < (int) (HEIGHT * TracePlot.TOP_SHARE); y++) {
      for (int x = 0; x < WIDTH; x++) {
        if ((img.getRGB(x, y) & 0xFFFFFF) == write) {
          points++;
        }
      }
    }
    // A dot is about 30 pixels; the legend's is one of them.
    assertTrue(points > 60, "write-coloured pixels in the sector panel: " + points);
  }

  /** nbdfuse makes the export a file, losetup a block device of it, and mkfs formats that. */
  private void mkfsThroughNbdfuse(ExternalTools tools, String uri) throws Exception {
    try (LoopOverNbd disk = LoopOverNbd.attach(tools, dir, uri)) {
      tools.ok(List.of("mkfs.ext4", "-q", "-F", disk.loop), 300);
    }
  }
}
