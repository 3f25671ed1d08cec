package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.daemon.ControlProtocol;
import dev.jdm.testkit.ExternalTools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jdm serve} of the distribution as a process: default config, signals, one per dir, errors. */
class ServeIT {
  @TempDir Path tmp;
  Path home;
  Path run;
  Map<String, String> env;
  Path emptyConfig;

  @BeforeEach
  void setUp() throws Exception {
    home = Distribution.home();
    run = tmp.resolve("run");
    env = Distribution.env(tmp);
    emptyConfig = tmp.resolve("empty.conf");
    Files.writeString(emptyConfig, "jdm {}\n");
  }

  private List<String> runtimeDirEntries() throws Exception {
    try (var s = Files.list(run)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void withoutAConfigItServesTheTutorialDeviceOnASparseImage() throws Exception {
    Path image = tmp.resolve("state/mydisk.img");
    try (ServeProcess d = ServeProcess.start(home, env)) {
      assertEquals("jdm ready: control socket " + run.resolve("control.sock")
          + "; devices my_device_mapper", d.readyLine());
      assertEquals("  my_device_mapper (134217728 bytes): jdm --runtime-dir " + run
          + " table my_device_mapper", d.awaitLine(l -> l.startsWith("  my_device_mapper")));
      assertEquals(128L << 20, Files.size(image));
      Process du = new ProcessBuilder("du", "-k", image.toString()).start();
      assertTrue(du.waitFor(60, TimeUnit.SECONDS));
      long kib = Long.parseLong(new String(du.getInputStream().readAllBytes()).split("\\s+")[0]);
      assertTrue(kib < 1024, "sparse: " + kib + " KiB allocated");
      assertEquals("0 262144 hello_target " + image + " 0\n",
          Distribution.run(home, env, "", "table", "my_device_mapper").ok());
      assertEquals(List.of("control.sock", "jdm.lock"), runtimeDirEntries());

      assertEquals(0, d.stop("TERM"));
      assertTrue(d.err().contains("my_device_mapper: removed"), d.err());
      assertEquals(List.of(), runtimeDirEntries());
    }
    // The image outlives the daemon and is used as it is next time.
    try (ServeProcess d = ServeProcess.start(home, env)) {
      assertEquals(0, d.stop("INT"));
      assertFalse(d.err().contains("created sparse image"), d.err());
    }
  }

  @Test
  void theHelloTargetLogsEachWriteInTheDaemonsOutput() throws Exception {
    // The seed's trace: the tutorial device over NBD, a 16 KiB write, one line per request.
    ExternalTools.require("qemu-io");
    Path sock = tmp.resolve("nbd.sock");
    try (ServeProcess d = ServeProcess.start(home, env, "--nbd", "unix:" + sock)) {
      d.readyLine();
      Process w = new ProcessBuilder("qemu-io", "-f", "raw", "-c", "write -P 0x5a 4096 16k",
          "nbd+unix:///my_device_mapper?socket=" + sock).redirectErrorStream(true).start();
      String out = new String(w.getInputStream().readAllBytes());
      assertTrue(w.waitFor(60, TimeUnit.SECONDS), "qemu-io did not finish");
      assertEquals(0, w.exitValue(), out);
      assertEquals(0, d.stop("TERM"));
      assertTrue(d.err().lines().anyMatch(l -> l.endsWith("hello: write, 8, 16384")), d.err());
    }
  }

  @Test
  void aSecondServeOnTheSameRuntimeDirIsRefused() throws Exception {
    try (ServeProcess first = ServeProcess.start(home, env, "--config", emptyConfig.toString())) {
      CliResult second = Distribution.run(home, env, "", "serve", "--config", emptyConfig.toString());
      assertEquals("jdm: another jdm serve (pid " + first.pid() + ") is running on " + run
          + "; stop it first or use another --runtime-dir", second.failed());
      assertEquals("No devices found\n", Distribution.run(home, env, "", "ls").ok());
      assertEquals(0, first.stop("TERM"));
    }
  }

  @Test
  void aKilledDaemonsSocketIsReplaced() throws Exception {
    try (ServeProcess killed = ServeProcess.start(home, env, "--config", emptyConfig.toString())) {
      assertEquals(137, killed.stop("KILL"));
    }
    assertTrue(Files.exists(run.resolve(ControlProtocol.SOCKET)), "the killed daemon's socket");
    CliResult gone = Distribution.run(home, env, "", "ls");
    assertTrue(gone.failed().startsWith("jdm: cannot reach the jdm daemon at "), gone.err());
    try (ServeProcess next = ServeProcess.start(home, env, "--config", emptyConfig.toString())) {
      assertEquals("No devices found\n", Distribution.run(home, env, "", "ls").ok());
      assertEquals(0, next.stop("TERM"));
      assertTrue(next.err().contains("replaced the stale control socket"), next.err());
    }
  }

  @Test
  void aTypoInTheConfigIsRefusedWithFileAndLine() throws Exception {
    Path config = tmp.resolve("typo.conf");
    Files.writeString(config, "jdm {\n  devices.d.table = \"0 8 zero\"\n  runtme-dir = /tmp\n}\n");
    CliResult r = Distribution.run(home, env, "", "serve", "--config", config.toString());
    assertEquals("jdm: " + config + ": 3: unknown key jdm.runtme-dir", r.failed());
    assertFalse(Files.exists(run), "nothing started");
  }

  @Test
  void theExampleConfigOfTheDistributionServes() throws Exception {
    try (ServeProcess d = ServeProcess.start(home, env, "--config",
        home.resolve("conf/jdm.conf").toString())) {
      assertTrue(d.readyLine().endsWith("; devices patchwork, traced"), d.readyLine());
      assertEquals("patchwork: 0 65536 linear /dev/mapper/traced 0\n"
          + "patchwork: 65536 2048 zero\npatchwork: 67584 2048 error\n"
          + "traced: 0 131072 hello_target " + tmp.resolve("state/scratch.img") + " 0\n",
          Distribution.run(home, env, "", "table").ok());
      assertEquals(0, d.stop("TERM"));
    }
  }

  @Test
  void versionNeedsNoDaemon() throws Exception {
    assertEquals("jdm " + System.getProperty("jdm.version") + "\n",
        Distribution.run(home, env, "", "--version").ok());
  }
}
