package dev.jdm.fuse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.fuse.proto.Errno;
import dev.jdm.fuse.proto.LinuxCalls;
import dev.jdm.fuse.proto.LinuxException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What the mount shows and allows, checked through real system calls on the FUSE files. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class DeviceFilesTest {
  private static final int MIB = 1 << 20;

  @RegisterExtension final JdmMount jdm = new JdmMount();

  private Path linear(String name, int mib) throws Exception {
    Path f = jdm.backing(name + ".img", (long) mib * MIB);
    jdm.device(name, "0 " + mib * 2048L + " linear " + f + " 0");
    return f;
  }

  private static List<String> names(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void oneFilePerDeviceWithItsSizeAndMode() throws Exception {
    linear("alpha", 4);
    Path f = jdm.backing("ro.img", MIB);
    jdm.mapper().create("beta", "0 2048 linear " + f + " 0", true);
    assertEquals(List.of("alpha", "beta"), names(jdm.mountpoint()));
    assertEquals(4L * MIB, Files.size(jdm.file("alpha")));
    assertEquals(MIB, Files.size(jdm.file("beta")));
    assertEquals("rw-------", PosixFilePermissions.toString(
        Files.getPosixFilePermissions(jdm.file("alpha"))));
    assertEquals("r--------", PosixFilePermissions.toString(
        Files.getPosixFilePermissions(jdm.file("beta"))));
    assertTrue(Files.isRegularFile(jdm.file("alpha")));
    assertEquals("fuse on " + jdm.mountpoint(), jdm.frontend().describe());
  }

  @Test
  void devicesAppearAndDisappearAtRunTime() throws Exception {
    assertEquals(List.of(), names(jdm.mountpoint()));
    assertFalse(Files.exists(jdm.file("late")));
    linear("late", 1);
    assertTrue(Files.exists(jdm.file("late")));
    assertEquals(List.of("late"), names(jdm.mountpoint()));
    jdm.mapper().remove("late", false);
    assertFalse(Files.exists(jdm.file("late")));
    assertEquals(List.of(), names(jdm.mountpoint()));
    linear("late", 2);
    assertEquals(2L * MIB, Files.size(jdm.file("late")));
  }

  @Test
  void aReloadedTableShowsItsNewSize() throws Exception {
    Path f = jdm.backing("grow.img", 4L * MIB);
    jdm.device("grow", "0 2048 linear " + f + " 0");
    assertEquals(MIB, Files.size(jdm.file("grow")));
    jdm.mapper().load("grow", "0 4096 linear " + f + " 0");
    jdm.mapper().resume("grow");
    assertEquals(2L * MIB, Files.size(jdm.file("grow")));
  }

  @Test
  void truncationAndNewNamesAreRefused() throws Exception {
    Path backing = linear("keep", 1);
    Path file = jdm.file("keep");
    byte[] data = random(4096, 1);
    Files.write(file, data, StandardOpenOption.WRITE);
    assertThrows(FileSystemException.class, () -> Files.write(file, new byte[] {1}),
        "O_TRUNC must be refused");
    Tools.Result shell = Tools.run("sh", "-c", "echo oops > " + file);
    assertTrue(shell.exit() != 0 && shell.err().contains("Operation not permitted"), shell.err());
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      assertThrows(IOException.class, () -> ch.truncate(0));
    }
    assertEquals(MIB, Files.size(file));
    assertArrayEquals(data, readAt(backing, 0, 4096), "a refused truncation kept the data");
    assertThrows(IOException.class, () -> Files.createFile(jdm.file("new")));
    assertThrows(IOException.class, () -> Files.createDirectory(jdm.file("dir")));
    assertThrows(IOException.class, () -> Files.delete(file));
    assertThrows(IOException.class, () -> Files.move(file, jdm.file("moved"),
        StandardCopyOption.ATOMIC_MOVE));
    assertThrows(IOException.class, () -> Files.setPosixFilePermissions(file,
        PosixFilePermissions.fromString("rwxrwxrwx")));
    assertEquals(List.of("keep"), names(jdm.mountpoint()));
  }

  @Test
  void unalignedReadsAndWritesTouchOnlyTheirBytes() throws Exception {
    Path backing = linear("bytes", 1);
    byte[] base = random(3 * 4096, 2);
    Files.write(backing, base, StandardOpenOption.WRITE);
    byte[] patch = random(1000, 3);
    try (FileChannel ch = FileChannel.open(jdm.file("bytes"), StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      assertEquals(1000, ch.write(ByteBuffer.wrap(patch), 511));
      assertEquals(1, ch.write(ByteBuffer.wrap(new byte[] {42}), 5000));
      System.arraycopy(patch, 0, base, 511, 1000);
      base[5000] = 42;
      ByteBuffer back = ByteBuffer.allocate(2999);
      ch.read(back, 7);
      byte[] expected = new byte[2999];
      System.arraycopy(base, 7, expected, 0, 2999);
      assertArrayEquals(expected, back.array(), "unaligned read");
    }
    assertArrayEquals(base, readAt(backing, 0, base.length), "stored bytes");
  }

  @Test
  void readsStopAtTheEndAndWritesPastItFail() throws Exception {
    linear("edge", 1);
    try (FileChannel ch = FileChannel.open(jdm.file("edge"), StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      assertEquals(100, ch.read(ByteBuffer.allocate(4096), MIB - 100));
      assertEquals(-1, ch.read(ByteBuffer.allocate(4096), MIB));
      assertEquals(100, ch.write(ByteBuffer.allocate(4096), MIB - 100), "short write at the end");
      IOException e =
          assertThrows(IOException.class, () -> ch.write(ByteBuffer.allocate(512), MIB));
      assertTrue(e.getMessage().contains("No space left"), e.getMessage());
    }
  }

  @Test
  void aReadOnlyDeviceOpensForReadingOnly() throws Exception {
    Path f = jdm.backing("ro.img", MIB);
    Files.write(f, random(512, 4), StandardOpenOption.WRITE);
    jdm.mapper().create("ro", "0 2048 linear " + f + " 0", true);
    assertArrayEquals(readAt(f, 0, 512), readAt(jdm.file("ro"), 0, 512));
    FileSystemException e = assertThrows(FileSystemException.class,
        () -> FileChannel.open(jdm.file("ro"), StandardOpenOption.WRITE).close());
    assertTrue(String.valueOf(e.getReason()).contains("Read-only"), e.toString());
  }

  @Test
  void fsyncAndCloseFlush() throws Exception {
    Path backing = linear("sync", 1);
    byte[] data = random(8192, 5);
    try (FileChannel ch = FileChannel.open(jdm.file("sync"), StandardOpenOption.WRITE,
        StandardOpenOption.DSYNC)) {
      ch.write(ByteBuffer.wrap(data), 4096);
      ch.force(true);
    }
    assertArrayEquals(data, readAt(backing, 4096, 8192));
  }

  @Test
  void punchHoleAndZeroRangeReadAsZerosAndFreeSpace() throws Exception {
    Tools.require("fallocate");
    Path backing = linear("holes", 8);
    byte[] data = random(8 * MIB, 6);
    Files.write(jdm.file("holes"), data, StandardOpenOption.WRITE);
    long before = allocated(backing);
    Tools.run("fallocate", "--punch-hole", "--offset", "1000", "--length", "3145728",
        jdm.file("holes").toString()).ok();
    Tools.run("fallocate", "--zero-range", "--offset", String.valueOf(5 * MIB), "--length",
        String.valueOf(MIB), jdm.file("holes").toString()).ok();
    Arrays.fill(data, 1000, 1000 + 3145728, (byte) 0);
    Arrays.fill(data, 5 * MIB, 6 * MIB, (byte) 0);
    assertArrayEquals(data, Files.readAllBytes(jdm.file("holes")), "through FUSE");
    assertArrayEquals(data, Files.readAllBytes(backing), "in the backing file");
    // Slack for the file system's own extent-tree blocks, which punching may add.
    assertTrue(allocated(backing) <= before - 3 * MIB + 64 * 1024,
        "the punched range was deallocated: " + before + " -> " + allocated(backing));
  }

  @Test
  void seekDataAndHoleFollowBlockStatus() throws Exception {
    Path backing = linear("sparse", 8);
    Path file = jdm.file("sparse");
    try (FileChannel ch = FileChannel.open(backing, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(random(MIB, 7)), 2L * MIB);
      ch.write(ByteBuffer.wrap(random(MIB, 8)), 6L * MIB);
    }
    int fd = LinuxCalls.open(file.toString(), LinuxCalls.O_RDONLY | LinuxCalls.O_CLOEXEC);
    try {
      assertEquals(2L * MIB, LinuxCalls.lseek(fd, 0, LinuxCalls.SEEK_DATA));
      assertEquals(2L * MIB + 7, LinuxCalls.lseek(fd, 2L * MIB + 7, LinuxCalls.SEEK_DATA));
      assertEquals(0, LinuxCalls.lseek(fd, 0, LinuxCalls.SEEK_HOLE));
      assertEquals(3L * MIB, LinuxCalls.lseek(fd, 2L * MIB, LinuxCalls.SEEK_HOLE));
      assertEquals(6L * MIB, LinuxCalls.lseek(fd, 3L * MIB, LinuxCalls.SEEK_DATA));
      assertEquals(7L * MIB, LinuxCalls.lseek(fd, 6L * MIB, LinuxCalls.SEEK_HOLE));
      assertEquals(8L * MIB - 1, LinuxCalls.lseek(fd, 8L * MIB - 1, LinuxCalls.SEEK_HOLE));
      LinuxException past = assertThrows(LinuxException.class,
          () -> LinuxCalls.lseek(fd, 8L * MIB, LinuxCalls.SEEK_DATA));
      assertEquals(Errno.ENXIO, past.errno());
    } finally {
      LinuxCalls.close(fd);
    }
  }

  @Test
  void statfsCountsTheDevices() throws Exception {
    linear("a", 4);
    linear("b", 8);
    assertEquals(12L * MIB, Files.getFileStore(jdm.mountpoint()).getTotalSpace());
  }

  private static long allocated(Path p) throws IOException {
    return Long.parseLong(Tools.run("stat", "-c", "%b", p.toString()).ok().out().strip()) * 512;
  }

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static byte[] readAt(Path p, long offset, int n) throws IOException {
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
      ByteBuffer b = ByteBuffer.allocate(n);
      while (b.hasRemaining() && ch.read(b, offset + b.position()) > 0) {
        // keep reading
      }
      return b.array();
    }
  }
}
