package dev.jdm.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.jdm.cli.ProgressBar;
import dev.jdm.cli.TraceLog;
import dev.jdm.cli.TracePlot;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.DeviceStats;
import dev.jdm.kernel.Frontend;
import dev.jdm.kernel.FrontendProvider;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.IoOp;
import java.awt.image.BufferedImage;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.ServiceLoader;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The seed's experiment with the real tools: a device is traced while {@code mkfs.ext4} formats it
 * through the NBD frontend, {@code nbdfuse} and a loop device; then the trace is read back and
 * plotted.
 */
class TraceMkfsTest {
  private static final long DEVICE_BYTES = 64L << 20;
  private static final int SUPERBLOCK_BYTE = 1024;

  @TempDir Path dir;

  @Test
  void traceOfMkfsShowsItsWritesAtTheStartOfTheDevice() throws Exception {
    Path image = dir.resolve("fs.img");
    try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(DEVICE_BYTES);
    }
    Path socket = dir.resolve("nbd.sock");
    Config config = ConfigFactory.parseString(
            "jdm.frontends.nbd.listen = [\"unix:" + socket + "\"]\n"
            + "jdm.trace.dir = \"" + dir.resolve("traces") + "\"")
        .withFallback(ConfigFactory.load());
    TargetRegistry registry = new TargetRegistry();
    assertEquals(List.of(), registry.discover(getClass().getClassLoader(), "class path"));
    Path csv = dir.resolve("mkfs.csv");
    Traces.Summary summary;
    try (DeviceMapper mapper = new DeviceMapper(registry, config);
        Frontend nbd = nbd(mapper, config);
        Traces traces = new Traces(mapper, config);
        ExternalTools tools = new ExternalTools(dir)) {
      mapper.create("fs", "0 " + DEVICE_BYTES / 512 + " linear " + image + " 0", false);
      assertEquals(csv, traces.start("fs", csv));
      mkfsThroughNbdfuse(tools, "nbd+unix:///fs?socket=" + socket);
      summary = traces.stop("fs");

      DeviceStats.Snapshot st = mapper.get("fs").stats();
      assertTrue(st.writes() > 0 && st.writtenBytes() > 0, st.toString());
      assertEquals(0, st.errors(), st.toString());
    }

    // A ring of 65536 records cannot overflow: 64 MiB is at most 16384 writes of 4 KiB.
    assertEquals(0, summary.dropped());
    assertTrue(summary.records() > 10, "requests traced: " + summary.records());
    TraceLog log = TraceLog.read(csv, TraceLog.Filter.parse(null,
        "read,write,flush,discard,write_zeroes"), ProgressBar.silent());
    assertEquals(summary.records(), log.records(), "every line parses back");
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
    assertTrue(firstMib > 2, "writes in the first MiB: " + firstMib);

    Path png = dir.resolve("mkfs.png");
    new TracePlot(ConfigFactory.load().getConfig("jdm.trace.plot"))
        .write(log, "mkfs.ext4", TraceLog.Filter.DEFAULT, png, 1000, 700);
    BufferedImage img = ImageIO.read(png.toFile());
    assertEquals(1000, img.getWidth());
    assertEquals(700, img.getHeight());
    int write = TracePlot.COLOURS.get(IoOp.WRITE).getRGB() & 0xFFFFFF;
    int points = 0;
    for (int y = 0; y < (int) (700 * TracePlot.TOP_SHARE); y++) {
      for (int x = 0; x < 1000; x++) {
        if ((img.getRGB(x, y) & 0xFFFFFF) == write) {
          points++;
        }
      }
    }
    assertTrue(points > 40, "write-coloured pixels in the sector panel: " + points);
  }

  private static Frontend nbd(DeviceMapper mapper, Config config) throws Exception {
    for (FrontendProvider p : ServiceLoader.load(FrontendProvider.class)) {
      if (p.name().equals("nbd")) {
        return p.start(mapper, config).orElseThrow();
      }
    }
    throw new AssertionError("the NBD frontend is not on the test class path");
  }

  /** nbdfuse makes the export a file, losetup a block device of it, and mkfs formats that. */
  private void mkfsThroughNbdfuse(ExternalTools tools, String uri) throws Exception {
    Path mnt = Files.createDirectory(dir.resolve("fuse"));
    Path pid = dir.resolve("nbdfuse.pid");
    Path log = dir.resolve("nbdfuse.log");
    Process fuse = tools.spawn(List.of("nbdfuse", "-P", pid.toString(), mnt + "/disk", uri), log);
    String loop = null;
    try {
      ExternalTools.awaitFile(pid, fuse, 60, log);
      loop = tools.ok(List.of("losetup", "-f", "--show", mnt + "/disk"), 60).strip();
      tools.ok(List.of("mkfs.ext4", "-q", "-F", loop), 300);
    } finally {
      try {
        if (loop != null) {
          tools.run(List.of("losetup", "-d", loop), 60);
        }
      } finally {
        tools.run(List.of("fusermount3", "-u", mnt.toString()), 60);
        fuse.destroy();
      }
    }
  }
}
