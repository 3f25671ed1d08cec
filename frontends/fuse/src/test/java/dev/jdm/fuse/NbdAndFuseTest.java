package dev.jdm.fuse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import com.typesafe.config.ConfigFactory;
import dev.jdm.kernel.Frontend;
import dev.jdm.nbd.NbdFrontendProvider;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * One device served through NBD and FUSE at once: what one side writes and flushes, the other
 * reads at once (FUSE keeps no cache of device data).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class NbdAndFuseTest {
  private static final int SIZE = 16 << 20;

  @RegisterExtension final JdmMount jdm = new JdmMount();
  private Frontend nbd;
  private String uri;

  @BeforeEach
  void serveOverNbdToo() throws Exception {
    Tools.require("nbdcopy");
    Path f = jdm.backing("disk.img", SIZE);
    jdm.device("disk", "0 " + SIZE / 512 + " linear " + f + " 0");
    Path socket = jdm.dir().resolve("nbd.sock");
    nbd = new NbdFrontendProvider().start(jdm.mapper(), ConfigFactory.parseString(
        "jdm.frontends.nbd { enabled = true, listen = [\"unix:" + socket + "\"] }"))
        .orElseThrow();
    uri = "nbd+unix:///disk?socket=" + socket;
  }

  @AfterEach
  void stopNbd() {
    if (nbd != null) {
      nbd.close();
    }
  }

  @Test
  void whatFuseWritesNbdReads() throws Exception {
    byte[] data = random(SIZE, 1);
    try (FileChannel ch = FileChannel.open(jdm.file("disk"), StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(data), 0);
      ch.force(true);
    }
    Path copy = jdm.dir().resolve("from-nbd.bin");
    Tools.run("nbdcopy", uri, copy.toString()).ok();
    assertArrayEquals(data, Files.readAllBytes(copy));
  }

  @Test
  void whatNbdWritesFuseReads() throws Exception {
    byte[] data = random(SIZE, 2);
    Path source = jdm.dir().resolve("to-nbd.bin");
    Files.write(source, data);
    Tools.run("nbdcopy", "--flush", source.toString(), uri).ok();
    assertArrayEquals(data, Files.readAllBytes(jdm.file("disk")));
  }

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }
}
