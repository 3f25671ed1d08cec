package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jdm.testkit.ExternalTools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kill -9} of a {@code jdm serve} process under a snapshot: the restarted daemon loads the
 * snapshot from its COW file with every exception of every acknowledged write (flushed or not),
 * and reads the data of its moment.
 */
class SnapshotCrashIT {
  private static final long SECTORS = 32768;

  @TempDir Path tmp;
  private ExternalTools tools;

  @AfterEach
  void killTools() throws InterruptedException {
    if (tools != null) {
      tools.close();
    }
  }

  @Test
  void aKilledDaemonLosesNoAcknowledgedException() throws Exception {
    Path home = Distribution.home();
    Map<String, String> env = Distribution.env(tmp);
    Path config = tmp.resolve("jdm.conf");
    Files.writeString(config, "jdm {}\n");
    Path sock = tmp.resolve("nbd.sock");
    Path image = tmp.resolve("base.img");
    byte[] original = new byte[(int) (SECTORS * 512)];
    new Random(1).nextBytes(original);
    Files.write(image, original);
    Path cow = tmp.resolve("snap.cow");
    String uri = "nbd+unix:///base?socket=" + sock;
    tools = new ExternalTools(tmp);
    try (ServeProcess d = ServeProcess.start(home, env, "--config", config.toString(), "--nbd",
        "unix:" + sock)) {
      Distribution.run(home, env, "", "create", "base", "--table",
          "0 " + SECTORS + " linear " + image + " 0").ok();
      Distribution.run(home, env, "", "snapshot", "snap", "base", "--cow", cow.toString(),
          "--size", "32M").ok();
      // 200 chunks written and flushed, then 100 more acknowledged.
      List<String> io = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
      for (int i = 0; i < 300; i++) {
        String pattern = i < 200 ? "0xab " : "0xcd ";
        io.addAll(List.of("-c", "write -P " + pattern + i * 32768 + " 4k"));
        if (i == 199) {
          io.addAll(List.of("-c", "flush"));
        }
      }
      io.add(uri);
      tools.ok(io, 300);
      assertEquals(137, d.stop("KILL"));
    }

    try (ServeProcess d = ServeProcess.start(home, env, "--config", config.toString(), "--nbd",
        "unix:" + sock)) {
      Distribution.run(home, env, "", "create", "base-real", "--table",
          "0 " + SECTORS + " linear " + image + " 0").ok();
      Distribution.run(home, env, "", "create", "snap", "--table",
          "0 " + SECTORS + " snapshot /dev/mapper/base-real " + cow + " P 8").ok();
      // 300 exceptions: the header, area 0 and its 256 data chunks, area 1 and 44 more.
      assertEquals("0 " + SECTORS + " snapshot " + (1 + 1 + 256 + 1 + 44) * 8 + "/65536 24",
          Distribution.run(home, env, "", "status", "snap").ok().lines().findFirst()
              .orElseThrow());
      Path copy = tmp.resolve("snap.copy");
      tools.ok(List.of("nbdcopy", "nbd+unix:///snap?socket=" + sock, copy.toString()), 300);
      assertArrayEquals(original, Files.readAllBytes(copy), "the snapshot's moment");
      d.stop("TERM");
    }
  }
}
