package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.jdm.testkit.ExternalTools;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A device in use is never removed under its user, as the kernel's device-mapper counts opens:
 * a FUSE open of its file, a loop device over that file with a mounted file system, an NBD client,
 * another device stacked on it. Through the real daemon, its FUSE mount, its NBD socket and the
 * real tools; {@code remove}, {@code remove --force} and {@code remove --deferred} as dmsetup's.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class OpenDevicesTest {
  private static final long MIB = 1 << 20;

  @TempDir Path tmp;
  private InProcessDaemon d;
  private ExternalTools tools;
  private Path mnt;
  private Path socket;
  private final List<String> loops = new ArrayList<>();
  private final List<Path> mounts = new ArrayList<>();
  private final ListAppender<ILoggingEvent> log = new ListAppender<>();

  @BeforeEach
  void start() throws Exception {
    for (String tool : List.of("losetup", "mount", "umount", "qemu-io", "mkfs.ext4")) {
      ExternalTools.require(tool);
    }
    mnt = Files.createDirectory(tmp.resolve("mnt"));
    socket = tmp.resolve("nbd.sock");
    tools = new ExternalTools(tmp);
    log.start();
    ((Logger) LoggerFactory.getLogger("dev.jdm")).addAppender(log);
    d = InProcessDaemon.start(tmp, "frontends.nbd { enabled = true, listen = [\"unix:" + socket
        + "\"] }\nfrontends.fuse { enabled = true, mountpoint = \"" + mnt + "\" }");
  }

  @AfterEach
  void stop() throws Exception {
    try {
      for (Path m : mounts) {
        tools.run(List.of("umount", "-l", m.toString()), 60);
      }
      for (String l : loops) {
        tools.run(List.of("losetup", "-d", l), 60);
      }
      tools.close();
    } finally {
      d.close();
      ((Logger) LoggerFactory.getLogger("dev.jdm")).detachAppender(log);
    }
  }

  private Path image(String name, long bytes) throws IOException {
    Path p = tmp.resolve(name);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(bytes);
    }
    return p;
  }

  private void linear(String name, Path image) throws IOException {
    d.jdm("create", name, "--table", "0 " + Files.size(image) / 512 + " linear " + image + " 0")
        .ok();
  }

  private String info(String name) {
    return d.jdm("info", name).ok();
  }

  private static String openCount(int n) {
    return "Open count:        " + n + "\n";
  }

  /** Waits for {@code check}: FUSE RELEASE and NBD disconnects reach the daemon a little later. */
  private static void eventually(Supplier<Boolean> check, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!check.get()) {
      assertTrue(System.nanoTime() < deadline, "timed out waiting for: " + what);
      Thread.sleep(50);
    }
  }

  private void awaitOpenCount(String name, int n) throws InterruptedException {
    eventually(() -> info(name).contains(openCount(n)), name + " open count " + n);
  }

  private boolean listed(String name) {
    return d.jdm("ls").ok().lines().anyMatch(l -> l.startsWith(name + "\t"));
  }

  private static void write(FileChannel f, long at, byte value) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(4096);
    while (b.hasRemaining()) {
      b.put(value);
    }
    f.write(b.flip(), at);
  }

  @Test
  void anOpenFuseFileAndAnNbdClientAreCountedAndBlockRemove() throws Exception {
    linear("disk", image("disk.img", 8 * MIB));
    assertTrue(info("disk").contains(openCount(0)), info("disk"));
    try (FileChannel f = FileChannel.open(mnt.resolve("disk"), StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      assertTrue(info("disk").contains(openCount(1)), info("disk"));
      assertEquals("jdm: disk: Device or resource busy: open count 1",
          d.jdm("remove", "disk").failed());
      write(f, 0, (byte) 7);

      Process qemu = tools.spawn(List.of("qemu-io", "-f", "raw",
          "nbd+unix:///disk?socket=" + socket), tmp.resolve("qemu-io.log"));
      awaitOpenCount("disk", 2);
      assertTrue(d.jdm("remove", "disk").failed().contains("Device or resource busy"));
      try (OutputStream in = qemu.getOutputStream()) {
        in.write("quit\n".getBytes(StandardCharsets.UTF_8));
      }
      assertTrue(qemu.waitFor(60, TimeUnit.SECONDS));
      awaitOpenCount("disk", 1);
      assertTrue(listed("disk"));
    }
    awaitOpenCount("disk", 0);
    d.jdm("remove", "disk").ok();
    assertEquals("No devices found\n", d.jdm("ls").ok());
  }

  @Test
  void aMountedFileSystemOnALoopDeviceOverTheFileKeepsItsDevice() throws Exception {
    linear("fs", image("fs.img", 32 * MIB));
    String loop = tools.ok(List.of("losetup", "-f", "--show", mnt.resolve("fs").toString()), 60)
        .strip();
    loops.add(loop);
    tools.ok(List.of("mkfs.ext4", "-q", "-F", loop), 120);
    Path at = Files.createDirectory(tmp.resolve("fs-mnt"));
    tools.ok(List.of("mount", loop, at.toString()), 60);
    mounts.add(at);
    assertTrue(info("fs").contains(openCount(1)), info("fs"));
    assertEquals("jdm: fs: Device or resource busy: open count 1", d.jdm("remove", "fs").failed());
    // The file system goes on working: nothing was taken from under it.
    Files.writeString(at.resolve("kept.txt"), "still here");
    tools.ok(List.of("sync", "-f", at.resolve("kept.txt").toString()), 60);
    assertEquals("still here", Files.readString(at.resolve("kept.txt")));
    tools.ok(List.of("umount", at.toString()), 60);
    mounts.remove(at);
    tools.ok(List.of("losetup", "-d", loop), 60);
    loops.remove(loop);
    awaitOpenCount("fs", 0);
    d.jdm("remove", "fs").ok();
  }

  @Test
  void forceFailsAllIoAtOnceThenRemovesAtTheLastCloseNeverReachingANewDevice() throws Exception {
    linear("doomed", image("old.img", 4 * MIB));
    FileChannel f = FileChannel.open(mnt.resolve("doomed"), StandardOpenOption.READ,
        StandardOpenOption.WRITE);
    try {
      write(f, 0, (byte) 1);
      CliResult r = d.jdm("remove", "-f", "doomed");
      assertEquals(0, r.code(), r.err());
      assertEquals("jdm: doomed: still open: its I/O fails from now on; removed when its last"
          + " user closes it\n", r.err());
      assertTrue(info("doomed").contains("State:             ACTIVE (DEFERRED REMOVE)\n"),
          info("doomed"));
      IOException e = assertThrows(IOException.class, () -> write(f, 0, (byte) 2));
      assertTrue(e.getMessage().contains("Input/output error"), e.getMessage());
      assertThrows(IOException.class, () -> f.read(ByteBuffer.allocate(512), 0));
      // The name stays taken while the old device is open: nothing can reach a new one.
      assertTrue(d.jdm("create", "doomed", "--table", "0 8 zero").failed()
          .contains("Device or resource busy"));
    } finally {
      // close(2) of a write descriptor flushes, and that fails too, as it should.
      IOException e = assertThrows(IOException.class, f::close);
      assertTrue(e.getMessage().contains("Input/output error"), e.getMessage());
    }
    eventually(() -> !listed("doomed"), "doomed removed at its last close");
    linear("doomed", image("new.img", 4 * MIB));
    assertEquals(4 * MIB, Files.size(mnt.resolve("doomed")));
    byte[] fresh = Files.readAllBytes(tmp.resolve("new.img"));
    assertEquals(0, fresh[0], "the old file's writes never reached the new device");
  }

  @Test
  void deferredRemovalWaitsForTheLastCloseAndTheDeviceWorksUntilThen() throws Exception {
    linear("later", image("later.img", 4 * MIB));
    try (FileChannel f = FileChannel.open(mnt.resolve("later"), StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      CliResult r = d.jdm("remove", "--deferred", "later");
      assertEquals(0, r.code(), r.err());
      assertEquals("jdm: later: still open: removed when its last user closes it\n", r.err());
      assertTrue(info("later").contains("(DEFERRED REMOVE)"), info("later"));
      write(f, 4096, (byte) 9);
      ByteBuffer back = ByteBuffer.allocate(4096);
      f.read(back, 4096);
      assertEquals(9, back.get(0));
    }
    eventually(() -> !listed("later"), "later removed at its last close");
    assertEquals(9, Files.readAllBytes(tmp.resolve("later.img"))[4096]);
  }

  @Test
  void aForceRemovedLowerDeviceIsReportedGoneByTheDeviceStackedOnIt() throws Exception {
    linear("lower", image("lower.img", 4 * MIB));
    d.jdm("create", "upper", "--table", "0 4096 linear /dev/mapper/lower 2048").ok();
    assertTrue(info("lower").contains(openCount(1)), info("lower"));
    assertTrue(d.jdm("remove", "lower").failed().contains("Device or resource busy"));
    assertEquals(0, d.jdm("remove", "-f", "lower").code());
    try (FileChannel f = FileChannel.open(mnt.resolve("upper"), StandardOpenOption.READ)) {
      IOException e = assertThrows(IOException.class, () -> f.read(ByteBuffer.allocate(512), 0));
      assertTrue(e.getMessage().contains("Input/output error"), e.getMessage());
    }
    List<String> lines = log.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    assertTrue(lines.contains("upper: linear: lower device /dev/mapper/lower is gone (removed with"
        + " --force, still open); its I/O fails"), String.join("\n", lines));
    assertTrue(lines.stream().noneMatch(l -> l.contains("remapped outside")), lines.toString());
    awaitOpenCount("upper", 0);
    d.jdm("remove", "upper").ok();
    eventually(() -> !listed("lower"), "lower removed once upper let go of it");
  }
}
