package dev.jdm.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.ExternalTools;
import dev.jdm.testkit.FullFileSystem;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What clients see when the backing file changes under a device: it grew (a new table may use the
 * room), its file system is full (ENOSPC, as {@code qemu werror=enospc} needs), it was truncated
 * (reads past its new end fail rather than return zeros). Through qemu-io and nbdinfo.
 */
@Timeout(300)
class BackingFilesTest {
  private static final long MIB = 1 << 20;
  private NbdFixture fx;

  @BeforeEach
  void start() throws Exception {
    fx = NbdFixture.start();
  }

  @AfterEach
  void stop() throws Exception {
    fx.close();
  }

  /** Grows or truncates a backing file under its device, as truncate(1) does. */
  private static void resize(Path f, long bytes) throws Exception {
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.setLength(bytes);
    }
  }

  private ExternalTools.Result qemuIo(String export, String command) throws Exception {
    return fx.run(List.of("qemu-io", "-f", "raw", "-c", command, fx.uri(export)), 60);
  }

  @Test
  void aGrownBackingFileIsSeenWhenATableIsLoadedAndByClientsAfterResume() throws Exception {
    Path f = fx.file("grows.img", 64 * MIB);
    fx.linear("disk", f);
    resize(f, 128 * MIB);
    fx.mapper.load("disk", "0 262144 linear " + f + " 0");
    fx.mapper.resume("disk");
    assertEquals(128 * MIB + "\n", fx.ok(List.of("nbdinfo", "--size", fx.uri("disk")), 60));
    String w = qemuIo("disk", "write -P 0x5a 127M 1M").out();
    assertTrue(w.contains("wrote 1048576/1048576 bytes at offset 133169152"), w);
  }

  @Test
  void aFullBackingFileSystemIsEnospcNotEio() throws Exception {
    try (FullFileSystem full = FullFileSystem.mount(fx.dir.resolve("full"), MIB)) {
      Path f = full.sparseFile("big.img", 16 * MIB);
      fx.linear("full", f);
      ExternalTools.Result r = qemuIo("full", "write -P 0x11 0 4M");
      assertTrue(r.out().contains("write failed: No space left on device"), r.out() + r.err());
      // qemu-io has gone; the server notices a moment later. Then the file system can go.
      fx.mapper.remove("full", false, true);
      fx.awaitRemoved("full");
    }
  }

  @Test
  void readsPastTheEndOfATruncatedBackingFileFailInsteadOfReturningZeros() throws Exception {
    Path f = fx.randomFile("shrinks.img", 8 * MIB);
    fx.linear("disk", f);
    resize(f, 4 * MIB);
    String before = qemuIo("disk", "read 1M 64k").out();
    assertTrue(before.contains("read 65536/65536 bytes at offset 1048576"), before);
    String after = qemuIo("disk", "read 6M 64k").out();
    assertTrue(after.contains("read failed: Input/output error"), after);
  }
}
