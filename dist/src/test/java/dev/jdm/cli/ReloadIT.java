package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdm.testkit.ExternalTools;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGHUP to the distribution's {@code jdm serve}: it reads its configuration file again, creates
 * the device added to it and reports the changed table it does not apply, while an NBD client
 * keeps writing and verifying another device.
 */
class ReloadIT {
  @TempDir Path tmp;
  Path home;
  Map<String, String> env;

  private CliResult jdm(String... args) throws Exception {
    return Distribution.run(home, env, "", args);
  }

  private Path image(String name, long bytes) throws Exception {
    Path p = tmp.resolve(name);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(bytes);
    }
    return p;
  }

  /** Runs {@code jdm args...} until its output satisfies {@code wanted}. */
  private void await(Predicate<String> wanted, String... args) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Distribution.TIMEOUT_SECONDS);
    String out = "";
    while (System.nanoTime() < deadline) {
      out = jdm(args).ok();
      if (wanted.test(out)) {
        return;
      }
      Thread.sleep(100);
    }
    fail("jdm " + String.join(" ", args) + " never printed what was wanted; last: " + out);
  }

  private static void hangUp(ServeProcess d) throws Exception {
    Process kill = new ProcessBuilder("kill", "-s", "HUP", Long.toString(d.pid())).inheritIO()
        .start();
    assertTrue(kill.waitFor(Distribution.TIMEOUT_SECONDS, TimeUnit.SECONDS));
    assertEquals(0, kill.exitValue());
  }

  @Test
  void sighupAddsTheNewDeviceWhileAClientKeepsVerifyingAnother() throws Exception {
    home = Distribution.home();
    env = Distribution.env(tmp);
    Path a = image("a.img", 64 << 20);
    Path b = image("b.img", 16 << 20);
    Path sock = tmp.resolve("nbd.sock");
    Path config = tmp.resolve("jdm.conf");
    String aLine = "jdm.devices.a.table = \"0 131072 linear " + a + " 0\"\n";
    Files.writeString(config, aLine);
    try (ExternalTools tools = new ExternalTools(tmp);
        ServeProcess d = ServeProcess.start(home, env, "--config", config.toString(),
            "--nbd", "unix:" + sock)) {
      Path fioLog = tmp.resolve("fio.log");
      // Writes and, 256 writes behind, reads back and checks what it wrote, for 15 s.
      Process fio = tools.spawn(List.of("fio", "--name=verify-a", "--ioengine=nbd",
          "--uri=nbd+unix:///a?socket=" + sock, "--rw=randwrite", "--bs=4k", "--iodepth=8",
          "--size=64M", "--time_based", "--runtime=15", "--verify=crc32c",
          "--verify_backlog=256", "--verify_fatal=1", "--verify_state_save=0",
          "--randrepeat=0"), fioLog);
      await(s -> !s.contains(" writes=0 "), "status", "a");

      String bLine = "jdm.devices.b.table = \"0 32768 linear " + b + " 0\"\n";
      Files.writeString(config, aLine + bLine);
      hangUp(d);
      await(s -> s.contains("b\t(253:1)"), "ls");
      assertTrue(fio.isAlive(), "the client on a was still at work when b appeared");
      assertEquals("16777216\n", tools.ok(List.of("nbdinfo", "--size",
          "nbd+unix:///b?socket=" + sock), 60));

      // A changed table of a running device is reported, not applied; c shows the file was read.
      Files.writeString(config, aLine.replace("0 131072 linear", "0 65536 linear") + bLine
          + "jdm.devices.c.table = \"0 8 zero\"\n");
      hangUp(d);
      await(s -> s.contains("c\t(253:2)"), "ls");
      assertEquals("0 131072 linear " + a + " 0\n", jdm("table", "a").ok());

      assertTrue(fio.waitFor(120, TimeUnit.SECONDS), "fio did not finish");
      String log = Files.readString(fioLog);
      assertEquals(0, fio.exitValue(), log);
      assertTrue(log.contains("err= 0"), log);
      assertFalse(log.contains("verify:") || log.contains("bad magic"), log);

      assertEquals(0, d.stop("TERM"));
      String err = d.err();
      assertTrue(err.contains("INFO  Daemon: b: created from the configuration"), err);
      assertTrue(err.contains("INFO  Daemon: c: created from the configuration"), err);
      assertEquals(1, err.lines().filter(l -> l.contains("WARN  Daemon: " + config + ": 1:"
          + " jdm.devices.a: table changed: not applied to the running device")).count(), err);
    }
  }
}
