package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.jdm.kernel.TraceRecorder;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoStatus;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import javax.imageio.ImageIO;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

class TracePlotTest {
  @TempDir Path dir;

  private final TracePlot plot = new TracePlot(ConfigFactory.load().getConfig("jdm.trace.plot"));

  /** A real trace: writes near the start, then reads across the device, a few flushes. */
  private Path trace() throws Exception {
    Path csv = dir.resolve("t.csv");
    try (TraceRecorder rec = TraceRecorder.toFile("t", csv, 4096, Duration.ofMillis(5))) {
      long t = System.nanoTime();
      for (int i = 0; i < 400; i++) {
        rec.completed(t + i * 1_000_000L, IoOp.WRITE, i * 8L, 4096, 20_000 + i * 100L,
            IoStatus.OK);
        rec.completed(t + i * 1_000_000L + 500_000, IoOp.READ, 100_000 + i * 256L, 65536,
            80_000, i == 7 ? IoStatus.EIO : IoStatus.OK);
        if (i % 50 == 0) {
          rec.completed(t + i * 1_000_000L, IoOp.FLUSH, 0, 0, 1_000_000, IoStatus.OK);
        }
      }
    }
    return csv;
  }

  private static int count(BufferedImage img, Color c, int yFrom, int yTo) {
    int n = 0;
    for (int y = yFrom; y < yTo; y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        if ((img.getRGB(x, y) & 0xFFFFFF) == (c.getRGB() & 0xFFFFFF)) {
          n++;
        }
      }
    }
    return n;
  }

  @Test
  void drawsReadsAndWritesInTheirColoursAtTheRequestedSize() throws Exception {
    Path csv = trace();
    TraceLog log = TraceLog.read(csv, TraceLog.Filter.DEFAULT, ProgressBar.silent());
    assertEquals(808, log.records());
    assertEquals(800, log.size(), "flushes are left out by default");
    assertEquals(1, log.errors());
    Path png = dir.resolve("t.png");
    plot.write(log, "t", TraceLog.Filter.DEFAULT, png, 900, 700);

    BufferedImage img = ImageIO.read(png.toFile());
    assertEquals(900, img.getWidth());
    assertEquals(700, img.getHeight());
    int top = (int) (700 * TracePlot.TOP_SHARE);
    int writes = count(img, TracePlot.COLOURS.get(IoOp.WRITE), 0, top);
    int reads = count(img, TracePlot.COLOURS.get(IoOp.READ), 0, top);
    assertTrue(writes > 500, "write pixels in the sector panel: " + writes);
    assertTrue(reads > 500, "read pixels in the sector panel: " + reads);
    assertTrue(count(img, TracePlot.COLOURS.get(IoOp.WRITE), top, 700) > 200,
        "the size histogram has write bars");
    assertEquals(0, count(img, TracePlot.COLOURS.get(IoOp.FLUSH), 0, 700));
  }

  @Test
  void keepsOnlyTheSectorsAndOpsAskedFor() throws Exception {
    TraceLog.Filter f = TraceLog.Filter.parse("0:1000", "write,flush");
    assertEquals(EnumSet.of(IoOp.WRITE, IoOp.FLUSH), f.ops());
    TraceLog log = TraceLog.read(trace(), f, ProgressBar.silent());
    assertEquals(125 + 8, log.size(), "writes below sector 1000 and every flush");
    for (int i = 0; i < log.size(); i++) {
      assertTrue(log.sector(i) < 1000 && log.op(i) != IoOp.READ);
    }
    Path png = dir.resolve("zoom.png");
    plot.write(log, "t", f, png, 600, 400);
    BufferedImage img = ImageIO.read(png.toFile());
    assertEquals(0, count(img, TracePlot.COLOURS.get(IoOp.READ), 0, 400));
    assertTrue(count(img, TracePlot.COLOURS.get(IoOp.FLUSH), 0, 400) > 20);
  }

  @Test
  void writesAnSvgWhenAskedFor() throws Exception {
    TraceLog log = TraceLog.read(trace(), TraceLog.Filter.DEFAULT, ProgressBar.silent());
    Path svg = dir.resolve("t.svg");
    plot.write(log, "t", TraceLog.Filter.DEFAULT, svg, 800, 600);
    DocumentBuilderFactory xml = DocumentBuilderFactory.newInstance();
    xml.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
    Document doc = xml.newDocumentBuilder().parse(svg.toFile());
    assertEquals("svg", doc.getDocumentElement().getTagName());
    assertTrue(doc.getDocumentElement().getAttribute("width").startsWith("800"),
        doc.getDocumentElement().getAttribute("width"));
    String text = Files.readString(svg);
    assertTrue(text.contains("rgb(214,39,40)"), "write points in the write colour");
  }

  @Test
  void saysWhatIsWrongWithABadFileOrRequest() throws Exception {
    Path bad = dir.resolve("bad.csv");
    Files.write(bad, List.of(TraceRecorder.HEADER, "1,write,0,4096,1.0,OK", "2,write,0,4096"));
    var e = assertThrows(IllegalArgumentException.class,
        () -> TraceLog.read(bad, TraceLog.Filter.DEFAULT, ProgressBar.silent()));
    assertEquals(bad + ":3: expected 6 comma-separated columns: '2,write,0,4096'",
        e.getMessage());

    Files.write(bad, List.of("sector,bytes", "1,2"));
    e = assertThrows(IllegalArgumentException.class,
        () -> TraceLog.read(bad, TraceLog.Filter.DEFAULT, ProgressBar.silent()));
    assertTrue(e.getMessage().startsWith(bad + ":1: not a jdm trace"), e.getMessage());

    Files.write(bad, List.of(TraceRecorder.HEADER, "1,trim,0,4096,1.0,OK"));
    e = assertThrows(IllegalArgumentException.class,
        () -> TraceLog.read(bad, TraceLog.Filter.DEFAULT, ProgressBar.silent()));
    assertEquals(bad + ":2: unknown op 'trim'", e.getMessage());

    e = assertThrows(IllegalArgumentException.class, () -> TraceLog.Filter.parse("9:3", null));
    assertEquals("--sectors '9:3': FROM must be below TO", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> TraceLog.Filter.parse(null, "read,x"));
    assertEquals("--ops: unknown op 'x': use read, write, flush, discard, write_zeroes",
        e.getMessage());

    TraceLog log = TraceLog.read(trace(), TraceLog.Filter.parse("5000000:", null),
        ProgressBar.silent());
    e = assertThrows(IllegalArgumentException.class,
        () -> plot.write(log, "t", TraceLog.Filter.DEFAULT, dir.resolve("x.png"), 800, 600));
    assertEquals("nothing to plot: none of the 808 requests in the trace match the --sectors"
        + " and --ops asked for", e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> plot.write(log, "t", TraceLog.Filter.DEFAULT, dir.resolve("x.gif"), 800, 600));
    assertEquals(dir.resolve("x.gif") + ": the output must end in .png or .svg", e.getMessage());
  }
}
