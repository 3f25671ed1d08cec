package dev.jdm.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.FullFileSystem;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A device file whose backing file system is full fails writes with ENOSPC (not EIO); one whose
 * backing file was truncated fails reads past the file's new end (not zeros). Through write(2) and
 * read(2) on the FUSE file.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class BackingFilesTest {
  private static final int MIB = 1 << 20;

  @RegisterExtension final JdmMount jdm = new JdmMount();

  @Test
  void aFullBackingFileSystemIsEnospc() throws Exception {
    try (FullFileSystem full = FullFileSystem.mount(jdm.dir().resolve("full"), MIB)) {
      Path f = full.sparseFile("big.img", 16 * MIB);
      jdm.device("full", "0 " + 16 * 2048 + " linear " + f + " 0");
      try (FileChannel c = FileChannel.open(jdm.file("full"), StandardOpenOption.WRITE)) {
        ByteBuffer b = ByteBuffer.allocateDirect(MIB);
        IOException e = assertThrows(IOException.class, () -> {
          for (int i = 0; i < 4; i++) {
            c.write(b.clear(), (long) i * MIB);
          }
        });
        assertEquals("No space left on device", e.getMessage());
      }
      // The FUSE file's release may come a moment after its close: the removal waits for it.
      jdm.mapper().remove("full", true, false);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (jdm.mapper().find("full").isPresent()) {
        assertTrue(System.nanoTime() < deadline, "device still open");
        Thread.sleep(20);
      }
    }
  }

  @Test
  void readsPastTheEndOfATruncatedBackingFileFail() throws Exception {
    Path f = jdm.backing("shrinks.img", 8 * MIB);
    jdm.device("disk", "0 " + 8 * 2048 + " linear " + f + " 0");
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.setLength(4 * MIB);
    }
    try (FileChannel c = FileChannel.open(jdm.file("disk"), StandardOpenOption.READ)) {
      assertEquals(4096, c.read(ByteBuffer.allocate(4096), MIB));
      IOException e = assertThrows(IOException.class,
          () -> c.read(ByteBuffer.allocate(4096), 6L * MIB));
      assertTrue(e.getMessage().contains("Input/output error"), e.getMessage());
    }
  }
}
