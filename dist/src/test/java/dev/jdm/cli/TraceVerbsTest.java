package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.daemon.StartFailed;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.awt.image.BufferedImage;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** jdm trace start / stop / plot and the counters of jdm status, against a daemon in this JVM. */
class TraceVerbsTest {
  @TempDir Path tmp;
  InProcessDaemon d;
  MappedDevice dev;

  @BeforeEach
  void start() throws Exception {
    Path disk = tmp.resolve("disk.img");
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.setLength(8 << 20);
    }
    d = InProcessDaemon.start(tmp, "");
    d.jdm("create", "--table", "0 16384 linear " + disk + " 0", "disk").ok();
    dev = d.daemon.mapper().get("disk");
  }

  @AfterEach
  void stop() {
    d.close();
  }

  /** One request on the device, as a frontend would send it. */
  private IoStatus io(IoOp op, long sector, int bytes) throws Exception {
    CompletableFuture<IoStatus> done = new CompletableFuture<>();
    dev.submit(new IoRequest().prepare(op, 0, sector, bytes,
        op.hasData() ? ByteBuffer.allocateDirect(bytes) : null, 0,
        r -> done.complete(r.status())));
    return done.get(30, TimeUnit.SECONDS);
  }

  @Test
  void tracesWhatTheDeviceDoesAndPlotsIt() throws Exception {
    Path csv = tmp.resolve("disk.csv");
    assertEquals(csv + "\n", d.jdm("trace", "start", "disk", "-o", csv.toString()).ok());
    for (int i = 0; i < 100; i++) {
      assertEquals(IoStatus.OK, io(IoOp.WRITE, i * 8L, 4096));
      assertEquals(IoStatus.OK, io(IoOp.READ, 8000 + i * 16L, 8192));
    }
    assertEquals(IoStatus.ENOSPC, io(IoOp.WRITE, 16380, 4096));
    assertEquals(IoStatus.OK, io(IoOp.FLUSH, 0, 0));

    List<String> status = d.jdm("status", "disk").ok().lines().toList();
    assertEquals("0 16384 linear", status.get(0).substring(0, 14));
    assertEquals("stats: reads=100 read_bytes=819200 writes=101 written_bytes=413696 others=1"
        + " errors=1 in_flight=0", status.get(1).substring(0, status.get(1).indexOf(" latency")));
    assertTrue(status.get(2).startsWith("trace: on file=" + csv + " records="), status.get(2));

    assertEquals(csv + ": 202 requests, 0 dropped\n", d.jdm("trace", "stop", "disk").ok());
    assertEquals("trace: off", d.jdm("status", "disk").ok().lines().toList().get(2));
    List<String> lines = Files.readAllLines(csv);
    assertEquals("time_ns,op,sector,bytes,latency_us,result", lines.get(0));
    assertEquals(203, lines.size());
    assertTrue(lines.stream().anyMatch(l -> l.matches("\\d+,write,16380,4096,[0-9.]+,ENOSPC")));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(csv)));

    Path png = tmp.resolve("disk.png");
    assertEquals(png + ": 201 of 202 requests (read,write), 1 failed\n",
        d.jdm("trace", "plot", csv.toString(), "-o", png.toString(), "--width", "640",
            "--height", "480").ok());
    BufferedImage img = ImageIO.read(png.toFile());
    assertEquals(640, img.getWidth());
    assertEquals(480, img.getHeight());

    Path zoom = tmp.resolve("zoom.svg");
    assertEquals(zoom + ": 50 of 202 requests (write)\n",
        d.jdm("trace", "plot", csv.toString(), "-o", zoom.toString(), "--sectors", ":400",
            "--ops", "write").ok());
    assertTrue(Files.readString(zoom).contains("<svg"));
  }

  @Test
  void writesIntoTheStateDirWithoutOutputAndEndsWithTheDevice() throws Exception {
    String file = d.jdm("trace", "start", "disk").ok().strip();
    Path traces = tmp.resolve("state").resolve("traces");
    assertTrue(file.matches(traces + "/disk-\\d{8}-\\d{6}\\.csv"), file);
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(traces)));
    io(IoOp.WRITE, 0, 512);
    d.jdm("remove", "disk").ok();
    assertEquals(2, Files.readAllLines(Path.of(file)).size(), "the trace was closed, complete");
    assertEquals("jdm: disk: No such device\n", d.jdm("trace", "stop", "disk").err());
  }

  @Test
  void countsAndReportsWhatTheTraceDropped() throws Exception {
    // A buffer of two records whose writer sleeps for an hour unless stopped: I/O goes on at full
    // speed and all but two requests are left out of the trace, counted.
    Path slowDir = Files.createDirectory(tmp.resolve("slow"));
    try (InProcessDaemon slow = InProcessDaemon.start(slowDir,
        "trace { buffer-records = 2, drain-interval = 1h }")) {
      slow.jdm("create", "--table", "0 16384 linear " + tmp.resolve("disk.img") + " 0", "d").ok();
      dev = slow.daemon.mapper().get("d");
      Path csv = tmp.resolve("slow.csv");
      slow.jdm("trace", "start", "d", "-o", csv.toString()).ok();
      for (int i = 0; i < 100; i++) {
        assertEquals(IoStatus.OK, io(IoOp.WRITE, i * 8L, 4096), "I/O never fails for the trace");
      }
      String trace = slow.jdm("status", "d").ok().lines().toList().get(2);
      // The writer may have taken the first two records before it went to sleep.
      assertTrue(trace.matches("trace: on file=" + csv + " records=[0-2] dropped=9[0-9]"), trace);

      CliResult r = slow.jdm("trace", "stop", "d");
      assertEquals(0, r.code(), r.toString());
      String[] words = r.out().strip().split(" ");
      long kept = Long.parseLong(words[1]);
      long dropped = Long.parseLong(words[3]);
      assertEquals(100, kept + dropped, r.out());
      assertTrue(dropped >= 90, r.out());
      assertEquals("jdm: d: " + dropped + " requests are missing from the trace: the writer fell"
          + " behind; raise jdm.trace.buffer-records\n", r.err());
      assertEquals(kept + 1, Files.readAllLines(csv).size());
    }
  }

  @Test
  void refusesABufferTooSmallAtStart() throws Exception {
    Path bad = Files.createDirectory(tmp.resolve("bad"));
    StartFailed e = assertThrows(StartFailed.class,
        () -> InProcessDaemon.start(bad, "trace.buffer-records = 1"));
    assertEquals(bad.resolve("jdm.conf") + ": 6: Invalid value at 'jdm.trace.buffer-records':"
        + " must be from 2 to 1073741824", e.getMessage());
  }

  @Test
  void anExistingFileIsKeptUnlessForcedAndASymbolicLinkIsNeverFollowed() throws Exception {
    Path victim = tmp.resolve("victim.txt");
    Files.writeString(victim, "precious\n");
    assertEquals("jdm: disk: " + victim + ": exists; --force overwrites it",
        d.jdm("trace", "start", "disk", "-o", victim.toString()).failed());
    Path link = tmp.resolve("link.csv");
    Files.createSymbolicLink(link, victim);
    assertEquals("jdm: disk: " + link + ": cannot write the trace: is a symbolic link; a trace is"
        + " never written through one", d.jdm("trace", "start", "disk", "-o", link.toString())
        .failed());
    assertEquals("jdm: disk: " + link + ": cannot write the trace: is a symbolic link; a trace is"
        + " never written through one", d.jdm("trace", "start", "disk", "-o", link.toString(),
        "--force").failed());
    Path dangling = tmp.resolve("dangling.csv");
    Files.createSymbolicLink(dangling, tmp.resolve("created-through-link.csv"));
    assertEquals(1, d.jdm("trace", "start", "disk", "-o", dangling.toString()).code());
    assertFalse(Files.exists(tmp.resolve("created-through-link.csv")));
    assertEquals("precious\n", Files.readString(victim));

    assertEquals(victim + "\n",
        d.jdm("trace", "start", "disk", "-o", victim.toString(), "--force").ok());
    d.jdm("trace", "stop", "disk").ok();
    assertTrue(Files.readString(victim).startsWith("time_ns,op,sector,bytes,latency_us,result"));
  }

  @Test
  void saysWhatIsWrong() throws Exception {
    Path csv = tmp.resolve("a.csv");
    assertEquals("jdm: nosuch: No such device",
        d.jdm("trace", "start", "nosuch", "-o", csv.toString()).failed());
    assertEquals("jdm: disk: not being traced", d.jdm("trace", "stop", "disk").failed());
    d.jdm("trace", "start", "disk", "-o", csv.toString()).ok();
    assertEquals("jdm: disk: already traced into " + csv + "; stop that trace first",
        d.jdm("trace", "start", "disk").failed());
    d.jdm("trace", "stop", "disk").ok();
    assertEquals("jdm: disk: " + tmp.resolve("no/dir/x.csv")
            + ": cannot write the trace: no such directory",
        d.jdm("trace", "start", "disk", "-o", tmp.resolve("no/dir/x.csv").toString()).failed());

    CliResult r = d.jdm("trace", "plot", csv.toString(), "-o", "x.png", "--ops", "read,trim");
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().startsWith("jdm trace plot: --ops: unknown op 'trim'"), r.err());
    r = d.jdm("trace", "plot", csv.toString(), "-o", "x.jpg");
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().startsWith("jdm trace plot: x.jpg: the output must end in .png or .svg"),
        r.err());
    assertEquals("jdm: " + tmp.resolve("none.csv") + ": No such file",
        d.jdm("trace", "plot", tmp.resolve("none.csv").toString(), "-o", "x.png").failed());
    assertEquals("jdm: " + csv + ": nothing to plot: none of the 0 requests in the trace match"
        + " the --sectors and --ops asked for",
        d.jdm("trace", "plot", csv.toString(), "-o", tmp.resolve("x.png").toString()).failed());
    d.jdm("trace", "start", "disk", "-o", csv.toString(), "--force").ok();
    io(IoOp.READ, 0, 512);
    d.jdm("trace", "stop", "disk").ok();
    assertEquals("jdm: " + tmp.resolve("no/x.png") + ": cannot write the plot: no such directory",
        d.jdm("trace", "plot", csv.toString(), "-o", tmp.resolve("no/x.png").toString()).failed());
    Files.writeString(csv, "hello\n");
    assertEquals("jdm: " + csv + ":1: not a jdm trace: the first line should be"
            + " 'time_ns,op,sector,bytes,latency_us,result'",
        d.jdm("trace", "plot", csv.toString(), "-o", tmp.resolve("x.png").toString()).failed());
  }
}
