package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The dmsetup verbs through the distribution's real {@code bin/jdm}, each a process of its own,
 * against one real daemon in a temporary runtime dir.
 */
class CliIT {
  /** The tutorial's image and table line, used verbatim. */
  static final Path MYDISK = Path.of("/tmp/mydisk");
  static final String SEED_LINE = "0 262144 hello_target /tmp/mydisk 0";

  @TempDir static Path tmp;
  static Path home;
  static Map<String, String> env;
  static ServeProcess daemon;
  static boolean madeMydisk;

  @BeforeAll
  static void start() throws Exception {
    home = Distribution.home();
    env = new java.util.HashMap<>(Distribution.env(tmp));
    env.put("CONFIG_FORCE_jdm_devices_from__env_table", "0 8 zero");
    if (!Files.exists(MYDISK)) {
      try (RandomAccessFile f = new RandomAccessFile(MYDISK.toFile(), "rw")) {
        f.setLength(128L << 20);
      }
      madeMydisk = true;
    }
    assertTrue(Files.size(MYDISK) >= 128L << 20,
        MYDISK + " exists and is smaller than the tutorial's 128 MiB: move it away");
    Path config = tmp.resolve("empty.conf");
    Files.writeString(config, "jdm {}\n");
    daemon = ServeProcess.start(home, env, "--config", config.toString());
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (daemon != null) {
        assertEquals(0, daemon.stop("TERM"), "exit code after SIGTERM");
      }
    } finally {
      if (daemon != null) {
        daemon.close();
      }
      if (madeMydisk) {
        Files.deleteIfExists(MYDISK);
      }
    }
  }

  private static CliResult jdm(String... args) throws Exception {
    return Distribution.run(home, env, "", args);
  }

  private static CliResult pipe(String stdin, String... args) throws Exception {
    return Distribution.run(home, env, stdin, args);
  }

  @Test
  void theTutorialsSessionGoesAsWithDmsetup() throws Exception {
    // echo 0 262144 hello_target /tmp/mydisk 0 | jdm create my_device_mapper
    assertEquals("", pipe(SEED_LINE + "\n", "create", "my_device_mapper").ok());
    assertTrue(jdm("ls").ok().lines().anyMatch(l -> l.matches("my_device_mapper\t\\(253:\\d+\\)")));
    String table = jdm("table", "my_device_mapper").ok();
    assertEquals(SEED_LINE + "\n", table);
    assertEquals("", pipe(table, "create", "tutorial_copy").ok());
    assertEquals(table, jdm("table", "tutorial_copy").ok());
    assertEquals("0 262144 hello_target\n", jdm("status", "my_device_mapper").ok());

    List<String> info = jdm("info", "my_device_mapper").ok().lines().toList();
    assertEquals("Name:              my_device_mapper", info.get(0));
    assertEquals("State:             ACTIVE", info.get(1));
    assertEquals("Tables present:    LIVE", info.get(3));
    assertTrue(info.get(6).matches("Major, minor: {6}253, \\d+"), info.get(6));
    assertEquals("Number of targets: 1", info.get(7));

    assertEquals("", jdm("suspend", "my_device_mapper").ok());
    assertEquals("", jdm("reload", "my_device_mapper", "--table",
        "0 131072 hello_target /tmp/mydisk 0").ok());
    info = jdm("info", "my_device_mapper").ok().lines().toList();
    assertEquals("State:             SUSPENDED", info.get(1));
    assertEquals("Tables present:    LIVE & INACTIVE", info.get(3));
    assertEquals("", jdm("resume", "my_device_mapper").ok());
    assertEquals("0 131072 hello_target /tmp/mydisk 0\n", jdm("table", "my_device_mapper").ok());
    assertEquals("State:             ACTIVE", jdm("info", "my_device_mapper").ok().lines()
        .toList().get(1));

    assertEquals("jdm: my_device_mapper: hello_target: Target does not support messages",
        jdm("message", "my_device_mapper", "0", "hello").failed());

    assertEquals("", jdm("remove", "tutorial_copy").ok());
    assertEquals("", jdm("remove", "my_device_mapper").ok());
    assertTrue(jdm("ls").ok().lines().noneMatch(l -> l.startsWith("my_device_mapper\t")));
  }

  @Test
  void anEnvironmentVariableSetsAKey() throws Exception {
    assertEquals("0 8 zero\n", jdm("table", "from-env").ok());
  }

  @Test
  void targetsListsTheBuiltInPluginsWithTheirVersions() throws Exception {
    List<String> lines = jdm("targets").ok().lines().toList();
    for (String name : List.of("hello", "hello_target", "linear", "zero", "error", "striped")) {
      assertTrue(lines.stream().anyMatch(l -> l.matches(name + " +v\\d+\\.\\d+\\.\\d+")),
          name + " in " + lines);
    }
  }

  @Test
  void wrongUsageExitsTwo() throws Exception {
    for (List<String> args : List.of(List.<String>of(), List.of("frobnicate"), List.of("create"),
        List.of("message", "x", "sector", "y"), List.of("remove", "--bogus", "x"))) {
      CliResult r = jdm(args.toArray(String[]::new));
      assertEquals(2, r.code(), args + ": " + r);
      assertTrue(!r.err().isBlank(), args + ": says why on stderr");
    }
  }

  @Test
  void anUnknownDeviceExitsOneWithOneLine() throws Exception {
    assertEquals("jdm: no_such_device: No such device", jdm("table", "no_such_device").failed());
    assertEquals("jdm: no_such_device: No such device", jdm("remove", "no_such_device").failed());
  }

  @Test
  void eightCallsAtOnceAllSucceed() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<CliResult>> calls = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        String name = "parallel" + i;
        calls.add(pool.submit(() -> switch (Integer.parseInt(name.substring(8)) % 4) {
          case 0 -> pipe("0 2048 zero\n", "create", name);
          case 1 -> jdm("create", "--table", "0 16 error", name);
          case 2 -> jdm("ls");
          default -> jdm("targets");
        }));
      }
      for (Future<CliResult> f : calls) {
        f.get().ok();
      }
    } finally {
      pool.shutdownNow();
    }
    String ls = jdm("ls").ok();
    for (int i : new int[] {0, 1, 4, 5}) {
      assertTrue(ls.contains("parallel" + i + "\t"), ls);
      jdm("remove", "parallel" + i).ok();
    }
  }

  @Test
  void aVerbAnswersHelp() throws Exception {
    CliResult r = jdm("create", "--help");
    assertEquals(0, r.code());
    assertTrue(r.out().startsWith("Usage: jdm create"), r.out());
  }
}
