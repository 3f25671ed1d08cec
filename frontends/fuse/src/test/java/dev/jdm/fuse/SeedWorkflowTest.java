package dev.jdm.fuse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The device-mapper tutorial's workflow, on the FUSE file of each kind of device: random bytes
 * with dd, then losetup, mkfs.ext4, mount, touch, cp, ls, umount, e2fsck and losetup -d.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class SeedWorkflowTest {
  private static final long SECTORS = 131072;
  private static final int RANDOM_BYTES = 16 * 1024;

  @RegisterExtension final JdmMount jdm = new JdmMount();

  /**
   * Builds the device of {@code kind}; returns the backing file and the byte offset in it where
   * device byte 0 lies (for checking the dd bytes landed where they should).
   */
  private Stored build(String kind) throws Exception {
    long bytes = SECTORS * 512;
    switch (kind) {
      case "hello" -> {
        Path f = jdm.backing("hello.img", bytes + 4096);
        jdm.device("dev", "0 " + SECTORS + " hello_target " + f + " 8");
        return new Stored(f, 8 * 512);
      }
      case "linear" -> {
        Path f = jdm.backing("linear.img", bytes);
        jdm.device("dev", "0 " + SECTORS + " linear " + f + " 0");
        return new Stored(f, 0);
      }
      case "striped" -> {
        Path a = jdm.backing("stripe0.img", bytes / 2);
        Path b = jdm.backing("stripe1.img", bytes / 2);
        jdm.device("dev", "0 " + SECTORS + " striped 2 128 " + a + " 0 " + b + " 0");
        return new Stored(a, 0);
      }
      case "stacked" -> {
        Path f = jdm.backing("lower.img", bytes + 1024 * 512);
        jdm.device("lower", "0 " + (SECTORS + 1024) + " linear " + f + " 0");
        jdm.device("dev", "0 " + SECTORS + " linear /dev/mapper/lower 1024");
        return new Stored(f, 1024 * 512);
      }
      default -> throw new IllegalArgumentException(kind);
    }
  }

  private record Stored(Path file, long offset) {}

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"hello", "linear", "striped", "stacked"})
  void ddLosetupMkfsMountCopyFsck(String kind) throws Exception {
    for (String tool : List.of("dd", "mkfs.ext4", "e2fsck", "touch", "cp", "ls")) {
      Tools.require(tool);
    }
    Stored stored = build(kind);
    Path file = jdm.file("dev");
    assertEquals(SECTORS * 512, Files.size(file));

    Path random = jdm.dir().resolve("random.bin");
    Tools.run("dd", "if=/dev/urandom", "of=" + random, "bs=1K", "count=16").ok();
    Tools.run("dd", "if=" + random, "of=" + file, "bs=1K", "count=16", "conv=notrunc").ok();
    byte[] expected = Files.readAllBytes(random);
    assertArrayEquals(expected, readAt(file, 0, RANDOM_BYTES), "read back through FUSE");
    assertArrayEquals(expected, readAt(stored.file(), stored.offset(), RANDOM_BYTES),
        "bytes in the backing file");

    String loop = jdm.losetup(file);
    Tools.run("mkfs.ext4", "-q", "-F", loop).ok();
    Path fs = jdm.mount(loop, "ext4");
    Tools.run("touch", fs.resolve("test.txt").toString()).ok();
    Tools.run("cp", fs.resolve("test.txt").toString(), fs.resolve("copy.txt").toString()).ok();
    String ls = Tools.run("ls", fs.toString()).ok().out();
    assertTrue(ls.contains("test.txt") && ls.contains("copy.txt"), ls);
    jdm.umount(fs);
    Tools.Result fsck = Tools.run("e2fsck", "-fn", loop);
    assertEquals(0, fsck.exit(), "e2fsck found problems:\n" + fsck.out() + fsck.err());
    jdm.detach(loop);
  }

  private static byte[] readAt(Path file, long offset, int length) throws IOException {
    byte[] b = new byte[length];
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
      f.seek(offset);
      f.readFully(b);
    }
    return b;
  }
}
