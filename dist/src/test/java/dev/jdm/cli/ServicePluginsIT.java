package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.ExternalTools;
import dev.jdm.testkit.PluginJar;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The kernel's services as a plugin author meets them: AUTHORING.md's two examples, {@code sleepy}
 * (a delay on the scheduler, FLUSH routed to it) and {@code twin} (a mirror on dm-io and the
 * copier, with an event when a leg fails), compiled from their sources into plugin jars at test
 * time, loaded into a running daemon with {@code jdm plugin load}, verified by fio through NBD,
 * and unloaded once no device uses them.
 */
class ServicePluginsIT {
  private static final Path EXAMPLES = Path.of("../core/spi/examples");
  private static final int MIB = 1 << 20;

  @TempDir Path tmp;
  Path home;
  Map<String, String> env;

  private CliResult jdm(String... args) throws Exception {
    return Distribution.run(home, env, "", args);
  }

  private Path plugin(String name, String className) throws Exception {
    String code = Files.readString(EXAMPLES.resolve(name).resolve(className + ".java"));
    String fqcn = "org.example." + name + "." + className;
    return new PluginJar(name + "-example", "1.0.0").source(fqcn, code).service(fqcn + "$Type")
        .writeTo(tmp.resolve("jars"));
  }

  private Path image(String name, int bytes, long seed) throws Exception {
    Path f = tmp.resolve(name);
    byte[] b = new byte[bytes];
    if (seed != 0) {
      new Random(seed).nextBytes(b);
    }
    Files.write(f, b);
    return f;
  }

  private static List<String> fio(Path sock, String device, int seconds) {
    return List.of("fio", "--name=verify-" + device, "--ioengine=nbd",
        "--uri=nbd+unix:///" + device + "?socket=" + sock, "--rw=randrw", "--bs=4k",
        "--iodepth=16", "--size=32M", "--time_based", "--runtime=" + seconds,
        "--verify=crc32c", "--verify_backlog=128", "--verify_fatal=1", "--verify_state_save=0",
        "--randrepeat=0");
  }

  private String await(Predicate<String> ok, String... verb) throws Exception {
    String out = "";
    for (int i = 0; i < 300; i++) {
      out = jdm(verb).ok();
      if (ok.test(out)) {
        return out;
      }
      Thread.sleep(100);
    }
    throw new AssertionError(String.join(" ", verb) + ": " + out);
  }

  private static long eventNumber(String info) {
    return info.lines().filter(l -> l.startsWith("Event number:"))
        .mapToLong(l -> Long.parseLong(l.replaceAll("\\D+", ""))).findFirst().orElseThrow();
  }

  @Test
  void delayAndMirrorPluginsLoadServeVerifiedIoAndUnload() throws Exception {
    ExternalTools.require("fio");
    home = Distribution.home();
    env = Distribution.env(tmp);
    Path sleepyJar = plugin("sleepy", "SleepyTarget");
    Path twinJar = plugin("twin", "TwinTarget");
    Path disk = image("disk.img", 32 * MIB, 0);
    Path leg0 = image("leg0.img", 32 * MIB, 1);
    Path leg1 = image("leg1.img", 32 * MIB, 2); // stale: differs everywhere until resynced
    Path sock = tmp.resolve("nbd.sock");
    Path config = Files.writeString(tmp.resolve("jdm.conf"), "jdm {}\n");
    try (ExternalTools tools = new ExternalTools(tmp);
        ServeProcess d = ServeProcess.start(home, env, "--config", config.toString(),
            "--nbd", "unix:" + sock)) {
      assertTrue(jdm("plugin", "load", sleepyJar.toString()).ok().contains("sleepy"));
      assertTrue(jdm("plugin", "load", twinJar.toString()).ok().contains("twin"));
      String targets = jdm("targets").ok();
      assertTrue(targets.contains("sleepy") && targets.contains("twin"), targets);

      jdm("create", "--table", "0 65536 sleepy " + disk + " 0 2", "slow").ok();
      jdm("create", "--table", "0 65536 twin " + leg0 + " " + leg1, "pair").ok();
      // The copier brings leg 1 up to date, its progress in the status, an event at its end.
      await(s -> s.contains("AA 65536/65536"), "status", "pair");
      assertTrue(eventNumber(jdm("info", "pair").ok()) >= 1);
      assertArrayEquals(Files.readAllBytes(leg0), Files.readAllBytes(leg1), "resynced");

      List<Process> runs = new ArrayList<>();
      List<Path> logs = new ArrayList<>();
      for (String dev : List.of("slow", "pair")) {
        Path log = tmp.resolve("fio-" + dev + ".log");
        logs.add(log);
        runs.add(tools.spawn(fio(sock, dev, 10), log));
      }
      for (int i = 0; i < runs.size(); i++) {
        assertTrue(runs.get(i).waitFor(120, TimeUnit.SECONDS), "fio did not finish");
        String log = Files.readString(logs.get(i));
        assertEquals(0, runs.get(i).exitValue(), log);
        assertTrue(log.contains("err= 0"), log);
      }
      // Every write went to both legs.
      assertArrayEquals(Files.readAllBytes(leg0), Files.readAllBytes(leg1), "legs after fio");
      // A flush went through sleepy's map (it holds FLUSH like any request) and came back.
      tools.ok(List.of("qemu-io", "-f", "raw", "-c", "flush",
          "nbd+unix:///slow?socket=" + sock), 60);

      // A leg that fails is dropped with an event; I/O goes on with the other.
      Path leg2 = image("leg2.img", 32 * MIB, 3);
      jdm("create", "--table", "0 65536 linear " + leg2 + " 0", "lower").ok();
      jdm("create", "--table", "0 65536 twin " + leg0 + " /dev/mapper/lower", "half").ok();
      await(s -> s.contains("AA 65536/65536"), "status", "half");
      long before = eventNumber(jdm("info", "half").ok());
      jdm("load", "--table", "0 65536 error", "lower").ok();
      jdm("resume", "lower").ok();
      byte[] data = new byte[65536];
      new Random(9).nextBytes(data);
      Path src = Files.write(tmp.resolve("data.bin"), data);
      tools.ok(List.of("nbdcopy", src.toString(), "nbd+unix:///half?socket=" + sock), 60);
      String status = await(s -> s.startsWith("0 65536 twin AD"), "status", "half");
      assertTrue(eventNumber(jdm("info", "half").ok()) > before, status);
      byte[] back = new byte[65536];
      try (RandomAccessFile r = new RandomAccessFile(leg0.toFile(), "r")) {
        r.readFully(back);
      }
      assertArrayEquals(data, back, "the healthy leg took the write");

      // Unloading waits for the last device of the type.
      assertTrue(jdm("plugin", "unload", "twin-example").failed()
          .contains("Device or resource busy"));
      jdm("remove", "pair").ok();
      jdm("remove", "half").ok();
      jdm("remove", "lower").ok();
      jdm("remove", "slow").ok();
      assertEquals("", jdm("plugin", "unload", "twin-example").ok());
      assertEquals("", jdm("plugin", "unload", "sleepy-example").ok());
      assertFalse(jdm("targets").ok().contains("twin"));
      assertEquals(0, d.stop("TERM"));
    }
  }
}
