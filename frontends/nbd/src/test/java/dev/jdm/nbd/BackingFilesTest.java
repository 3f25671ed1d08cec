package dev.jdm.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.ExternalTools;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What clients see when the backing file changes under a device: it grew (a new table may use the
 * room). Through qemu-io and nbdinfo.
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

  private ExternalTools.Result qemuIo(String export, String command) throws Exception {
    return fx.run(List.of("qemu-io", "-f", "raw", "-c", command, fx.uri(export)), 60);
  }

  @Test
  void aGrownBackingFileIsSeenWhenATableIsLoadedAndByClientsAfterResume() throws Exception {
    Path f = fx.file("grows.img", 64 * MIB);
    fx.linear("disk", f);
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.setLength(128 * MIB);
    }
    fx.mapper.load("disk", "0 262144 linear " + f + " 0");
    fx.mapper.resume("disk");
    assertEquals(128 * MIB + "\n", fx.ok(List.of("nbdinfo", "--size", fx.uri("disk")), 60));
    String w = qemuIo("disk", "write -P 0x5a 127M 1M").out();
    assertTrue(w.contains("wrote 1048576/1048576 bytes at offset 133169152"), w);
  }
}
