package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.Nbdkit;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The dmsetup verbs, run in this JVM against a daemon in this JVM: formats, errors, exit codes. */
class VerbsTest {
  @TempDir Path tmp;
  InProcessDaemon d;
  Path disk;

  @BeforeEach
  void start() throws Exception {
    disk = tmp.resolve("disk.img");
    try (RandomAccessFile f = new RandomAccessFile(disk.toFile(), "rw")) {
      f.setLength(8 << 20);
    }
    d = InProcessDaemon.start(tmp, "");
  }

  @AfterEach
  void stop() {
    d.close();
  }

  @Test
  void statusShowsTheStateOfRemoteBackingDevices() throws Exception {
    try (Nbdkit kit = Nbdkit.start(tmp, "remote", List.of("memory", "8M"))) {
      String table = "0 16384 linear " + kit.uri() + " 0\n";
      assertEquals("", d.pipe(table, "create", "far").ok());
      assertEquals(table, d.jdm("table", "far").ok());
      String status = d.jdm("status", "far").ok();
      assertTrue(status.endsWith("trace: off\nremote: " + kit.uri()
          + " connected, 2 connection(s)\n"), status);
      kit.kill();
      long deadline = System.nanoTime() + 10_000_000_000L;
      do {
        Thread.sleep(50);
        status = d.jdm("status", "far").ok();
      } while (!status.contains(" reconnecting, ") && System.nanoTime() < deadline);
      assertTrue(status.contains("remote: " + kit.uri() + " reconnecting, down for "), status);
      assertEquals("", d.jdm("remove", "far").ok());
    }
  }

  @Test
  void createFromStandardInputThenTheTableRoundTrips() {
    String table = "0 8192 linear " + disk + " 0\n8192 2048 zero\n10240 16 error\n";
    assertEquals("", d.pipe(table, "create", "multi").ok());
    assertEquals(table, d.jdm("table", "multi").ok());
    assertEquals("", d.pipe(d.jdm("table", "multi").ok(), "create", "copy").ok());
    assertEquals(table, d.jdm("table", "copy").ok());
    assertEquals("", d.jdm("create", "--table", "0 16 zero", "--table", "16 16 error", "opts").ok());
    assertEquals("0 16 zero\n16 16 error\n", d.jdm("table", "opts").ok());
  }

  @Test
  void lsInfoStatusAndTableLookLikeDmsetups() {
    assertEquals("No devices found\n", d.jdm("ls").ok());
    assertEquals("No devices found\n", d.jdm("info").ok());
    assertEquals("No devices found\n", d.jdm("table").ok());
    d.pipe("0 2048 hello_target " + disk + " 0", "create", "a").ok();
    d.jdm("create", "-r", "--table", "0 8 zero", "b").ok();
    assertEquals("a\t(253:0)\nb\t(253:1)\n", d.jdm("ls").ok());
    assertEquals("a: 0 2048 hello_target " + disk + " 0\nb: 0 8 zero\n", d.jdm("table").ok());
    assertEquals("a: 0 2048 hello_target\nb: 0 8 zero\n", d.jdm("status").ok());
    assertEquals("0 8 zero\nstats: reads=0 read_bytes=0 writes=0 written_bytes=0 others=0"
        + " errors=0 in_flight=0 latency_p50_us=0 latency_p99_us=0\ntrace: off\n",
        d.jdm("status", "b").ok());
    assertEquals("""
        Name:              b
        State:             ACTIVE (READ-ONLY)
        Read Ahead:        256
        Tables present:    LIVE
        Open count:        0
        Event number:      0
        Major, minor:      253, 1
        Number of targets: 1
        """, d.jdm("info", "b").ok());
    String all = d.jdm("info").ok();
    assertTrue(all.startsWith("Name:              a\n"), all);
    assertTrue(all.contains("Number of targets: 1\n\nName:              b\n"), all);
  }

  @Test
  void aTableOfMoreThanTwoToTheSixtyThreeBytesIsRefusedWhateverItsLines() {
    // 2^54 sectors are 2^63 bytes: the size in bytes would wrap negative.
    assertEquals("jdm: big: zero: Invalid length: the device would be larger than 2^63 bytes"
        + " (line 1)", d.jdm("create", "big", "--table", "0 18014398509481984 zero").failed());
    assertEquals("jdm: big: zero: Invalid length: the device would be larger than 2^63 bytes"
        + " (line 2)", d.jdm("create", "big", "--table", "0 8 zero", "--table",
            "8 18014398509481976 zero").failed());
    assertEquals("jdm: big: zero: Invalid length: the device would be larger than 2^63 bytes"
        + " (line 1)", d.jdm("create", "big", "--table", "0 9223372036854775807 zero").failed());
    d.jdm("create", "big", "--table", "0 18014398509481983 zero").ok();
    d.jdm("create", "small", "--table", "0 8 zero").ok();
    assertTrue(d.jdm("load", "small", "--table", "0 18014398509481984 zero").failed()
        .contains("larger than 2^63 bytes"));
    assertEquals("0 18014398509481983 zero\n",
        d.jdm("table", "big").ok());
  }

  @Test
  void devicesCannotBeCalledDotOrDotDot() {
    for (String name : new String[] {".", ".."}) {
      assertEquals("jdm: '" + name + "': invalid device name: . and .. name directories (the FUSE"
          + " mount shows a device as a file of its name)",
          d.jdm("create", name, "--table", "0 8 zero").failed());
    }
    d.jdm("create", "...", "--table", "0 8 zero").ok();
  }

  @Test
  void suspendReloadResumeSwapsTheTable() {
    d.jdm("create", "--table", "0 64 zero", "dev").ok();
    d.jdm("suspend", "dev").ok();
    assertTrue(d.jdm("info", "dev").ok().contains("State:             SUSPENDED\n"));
    d.pipe("0 64 error", "reload", "dev").ok();
    String info = d.jdm("info", "dev").ok();
    assertTrue(info.contains("Tables present:    LIVE & INACTIVE\n"), info);
    assertEquals("0 64 error\n", d.jdm("table", "--inactive", "dev").ok());
    assertEquals("0 64 zero\n", d.jdm("table", "dev").ok());
    d.jdm("resume", "dev").ok();
    assertEquals("0 64 error\n", d.jdm("table", "dev").ok());
    info = d.jdm("info", "dev").ok();
    assertTrue(info.contains("State:             ACTIVE\n"), info);
    assertTrue(info.contains("Event number:      1\n"), info);
    d.jdm("load", "dev", "--table", "0 64 zero").ok();
    d.jdm("clear", "dev").ok();
    assertTrue(d.jdm("info", "dev").ok().contains("Tables present:    LIVE\n"));
  }

  @Test
  void targetsListsEveryNameAndAliasWithItsVersion() {
    List<String> lines = d.jdm("targets").ok().lines().toList();
    for (String name : List.of("error", "hello", "hello_target", "linear", "striped", "zero")) {
      assertTrue(lines.stream().anyMatch(l -> l.matches(name + " +v\\d+\\.\\d+\\.\\d+")),
          name + " in " + lines);
    }
    assertEquals(lines.stream().sorted().toList(), lines);
    // dmsetup's columns: the name padded to 16, a space, the version.
    assertTrue(lines.stream().allMatch(l -> l.length() > 17 && l.charAt(16) == ' '
        && l.charAt(17) == 'v'), lines.toString());
  }

  @Test
  void createWithoutATableThenLoadAndResume() {
    d.jdm("create", "--notable", "empty").ok();
    assertTrue(d.jdm("info", "empty").ok().contains("Tables present:    None\n"));
    assertEquals("", d.jdm("table", "empty").ok());
    d.jdm("load", "empty", "--table", "0 8 zero").ok();
    d.jdm("resume", "empty").ok();
    assertEquals("0 8 zero\n", d.jdm("table", "empty").ok());
  }

  @Test
  void waitReturnsOnceTheEventNumberIsAboveTheOneGiven() throws Exception {
    d.jdm("create", "--table", "0 64 zero", "ev").ok();
    assertEquals("jdm: ev: no event above 0 within 200 ms (event number 0)",
        d.jdm("wait", "ev", "--timeout", "0.2").failed());
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<CliResult> waiting = pool.submit(() -> d.jdm("wait", "ev", "0", "--timeout", "30"));
      Thread.sleep(200);
      assertTrue(!waiting.isDone());
      d.jdm("load", "ev", "--table", "0 64 error").ok();
      d.jdm("resume", "ev").ok();
      assertEquals("", waiting.get(30, TimeUnit.SECONDS).ok());
    } finally {
      pool.shutdownNow();
    }
    // Already past: at once, and -v shows the info.
    String info = d.jdm("wait", "-v", "ev").ok();
    assertTrue(info.startsWith("Name:              ev\n"), info);
    assertTrue(info.contains("Event number:      1\n"), info);
    assertEquals("jdm: nosuch: No such device", d.jdm("wait", "nosuch").failed());
    assertEquals(2, d.jdm("wait", "ev", "--timeout", "-1").code());
  }

  @Test
  void aWaitInProgressDoesNotHoldTheDaemonsStopUp() throws Exception {
    d.jdm("create", "--table", "0 64 zero", "idle").ok();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Future<CliResult> waiting = pool.submit(() -> d.jdm("wait", "idle"));
      Thread.sleep(300);
      long start = System.nanoTime();
      d.close();
      assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5));
      assertEquals("jdm: idle: the daemon is stopping",
          waiting.get(10, TimeUnit.SECONDS).failed());
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void failuresExitOneWithOneLine() {
    d.pipe("0 8 zero", "create", "z").ok();
    assertEquals("jdm: z: zero: Target does not support messages",
        d.jdm("message", "z", "0", "hello").failed());
    for (List<String> verb : List.of(List.of("table", "nosuch"), List.of("status", "nosuch"),
        List.of("info", "nosuch"), List.of("suspend", "nosuch"), List.of("resume", "nosuch"),
        List.of("clear", "nosuch"), List.of("remove", "nosuch"),
        List.of("message", "nosuch", "0", "x"), List.of("load", "nosuch", "--table", "0 1 zero"))) {
      assertEquals("jdm: nosuch: No such device", d.jdm(verb.toArray(String[]::new)).failed(),
          verb.toString());
    }
    assertEquals("jdm: z: Device or resource busy: a device with this name exists",
        d.pipe("0 8 zero", "create", "z").failed());
    assertTrue(d.pipe("0 8 nosuch", "create", "y").failed()
        .startsWith("jdm: y: nosuch: unknown target type (line 1)"));
    assertTrue(d.jdm("create", "f", tmp.resolve("absent").toString()).failed()
        .endsWith("absent: No such file"));
    d.jdm("remove", "z").ok();
    assertEquals("No devices found\n", d.jdm("ls").ok());
  }

  @Test
  void wrongUsageExitsTwo() {
    for (List<String> args : List.<List<String>>of(List.of(), List.of("frobnicate"), List.of("create"),
        List.of("message", "z", "zero", "x"), List.of("message", "z", "0"),
        List.of("create", "--notable", "--table", "0 1 zero", "x"),
        List.of("create", "x", "file", "--table", "0 1 zero"), List.of("table", "a", "b"),
        List.of("ls", "extra"), List.of("remove", "--bogus", "x"))) {
      CliResult r = InProcessDaemon.run("", args.toArray(String[]::new));
      assertEquals(2, r.code(), args + ": " + r);
      assertTrue(!r.err().isEmpty(), args.toString());
    }
  }

  @Test
  void everyVerbHasHelp() {
    for (String verb : List.of("serve", "create", "remove", "load", "reload", "clear", "suspend",
        "resume", "table", "status", "info", "ls", "targets", "message", "version",
        "trace", "wait")) {
      CliResult r = InProcessDaemon.run("", verb, "--help");
      assertEquals(0, r.code(), verb);
      assertTrue(r.out().startsWith("Usage: jdm " + verb) || verb.equals("reload"), r.out());
      assertTrue(r.out().contains("--runtime-dir"), verb + ": " + r.out());
    }
    assertTrue(InProcessDaemon.run("", "--help").out().contains("suspend"));
    assertEquals("jdm " + System.getProperty("jdm.version", "0.1.0-SNAPSHOT") + "\n",
        InProcessDaemon.run("", "--version").ok());
  }

  @Test
  void theRuntimeDirOptionGoesBeforeOrAfterTheVerb() {
    assertEquals("No devices found\n", InProcessDaemon.run("", "ls", "--runtime-dir",
        d.runtimeDir().toString()).ok());
  }

  @Test
  void versionShowsClientAndDaemon() {
    String v = d.jdm("version").ok();
    assertTrue(v.matches("jdm version: +\\S+\nDaemon version: +\\S+\n"), v);
  }

  @Test
  void withoutADaemonAVerbSaysWhereItLooked() {
    CliResult r = InProcessDaemon.run("", "--runtime-dir", tmp.resolve("nobody").toString(), "ls");
    assertTrue(r.failed().startsWith("jdm: cannot reach the jdm daemon at "
        + tmp.resolve("nobody/control.sock")), r.err());
  }

  @Test
  void manyCallsAtOnceAllSucceed() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(16);
    try {
      List<Future<CliResult>> calls = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        String name = "c" + i;
        calls.add(pool.submit(() -> d.pipe("0 8 zero", "create", name)));
        calls.add(pool.submit(() -> d.jdm("ls")));
        calls.add(pool.submit(() -> d.jdm("targets")));
      }
      for (Future<CliResult> f : calls) {
        f.get().ok();
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(32, d.jdm("ls").ok().lines().count());
  }
}
