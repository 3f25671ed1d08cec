package dev.jdm.testkit;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real single-node Ceph cluster for tests of RBD backing devices: one monitor, one OSD on the
 * memstore object store and one manager, on 127.0.0.1 with authentication off, everything (its
 * ceph.conf, data, logs, sockets) in one temp directory. It starts in a few seconds without
 * systemd and {@link #close()} kills it and removes the directory, even after a failed test.
 *
 * <p>A test that needs it fails, never skips, when it cannot start, saying in one line what was
 * missing: CI installs ceph-mon, ceph-osd, ceph-mgr, ceph-common and librbd1.
 */
public final class CephCluster implements AutoCloseable {
  private static final Pattern ALL_CLEAN = Pattern.compile("(\\d+) pgs: \\1 active\\+clean");
  private final Path dir;
  private final Path conf;
  private final ExternalTools tools;
  private final List<Process> daemons = new ArrayList<>();

  private CephCluster(Path dir) {
    this.dir = dir;
    this.conf = dir.resolve("ceph.conf");
    this.tools = new ExternalTools(dir);
  }

  /**
   * Starts a cluster with an OSD of {@code storeBytes} in memory and a pool {@code rbd} ready for
   * images; fails the test in one line when it cannot.
   */
  public static CephCluster start(long storeBytes) throws Exception {
    for (String tool : List.of("ceph-mon", "ceph-osd", "ceph-mgr", "ceph", "rbd", "monmaptool")) {
      if (!installed(tool)) {
        fail("this test needs a single-node Ceph cluster, and " + tool + " is not installed"
            + " (ceph-mon, ceph-osd, ceph-mgr, ceph-common, librbd1; .ci/run installs them)");
      }
    }
    CephCluster c = new CephCluster(Files.createTempDirectory("jdm-ceph"));
    try {
      c.boot(storeBytes);
      return c;
    } catch (Throwable t) {
      c.close();
      throw t;
    }
  }

  private static boolean installed(String tool) {
    for (String d : List.of("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin")) {
      if (Files.isExecutable(Path.of(d, tool))) {
        return true;
      }
    }
    return false;
  }

  private void boot(long storeBytes) throws Exception {
    for (String sub : List.of("mon", "osd", "mgr", "run", "log")) {
      Files.createDirectories(dir.resolve(sub));
    }
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    String fsid = UUID.randomUUID().toString();
    String template;
    try (var in = CephCluster.class.getResourceAsStream("ceph-single-node.conf")) {
      template = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    Files.writeString(conf, template.replace("@FSID@", fsid).replace("@PORT@", "" + port)
        .replace("@STORE_BYTES@", "" + storeBytes).replace("@DIR@", dir.toString()));
    step("monmaptool", List.of("monmaptool", "--create", "--fsid", fsid, "--addv", "a",
        "[v2:127.0.0.1:" + port + "]", dir.resolve("monmap").toString()));
    step("ceph-mon --mkfs", List.of("ceph-mon", "-c", conf.toString(), "--mkfs", "-i", "a",
        "--monmap", dir.resolve("monmap").toString()));
    daemon("mon", List.of("ceph-mon", "-f", "-c", conf.toString(), "-i", "a"));
    String uuid = UUID.randomUUID().toString();
    String osd = ceph("osd", "new", uuid).trim();
    step("ceph-osd --mkfs", List.of("ceph-osd", "-c", conf.toString(), "-i", osd, "--mkfs",
        "--osd-uuid", uuid));
    daemon("osd", List.of("ceph-osd", "-f", "-c", conf.toString(), "-i", osd));
    daemon("mgr", List.of("ceph-mgr", "-f", "-c", conf.toString(), "-i", "x"));
    await("the OSD to come up", () -> ceph("osd", "stat").contains("1 up"));
    ceph("osd", "pool", "create", "rbd", "8");
    rbd("pool", "init", "rbd");
    await("the placement groups to be clean", () -> {
      Matcher m = ALL_CLEAN.matcher(ceph("pg", "stat"));
      return m.find();
    });
  }

  private interface Check {
    boolean ok() throws Exception;
  }

  private void await(String what, Check check) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (System.nanoTime() < deadline) {
      for (Process p : daemons) {
        if (!p.isAlive()) {
          fail("the test Ceph cluster did not start: " + p.info().command().orElse("a daemon")
              + " exited: " + tail());
        }
      }
      if (check.ok()) {
        return;
      }
      Thread.sleep(250);
    }
    fail("the test Ceph cluster did not start: no " + what + " in 90 s: " + tail());
  }

  private void step(String what, List<String> command) throws Exception {
    ExternalTools.Result r = tools.run(command, 60);
    if (r.exit() != 0) {
      fail("the test Ceph cluster did not start: " + what + " failed: " + r.err() + r.out());
    }
  }

  private void daemon(String name, List<String> command) throws IOException {
    Process p = tools.spawn(command, dir.resolve("log").resolve(name + ".out"));
    daemons.add(p);
    // A JVM that dies without running the test's teardown takes the daemons with it.
    Runtime.getRuntime().addShutdownHook(new Thread(p::destroyForcibly));
  }

  private String tail() {
    StringBuilder b = new StringBuilder();
    try (var files = Files.list(dir.resolve("log"))) {
      for (Path f : files.sorted().toList()) {
        List<String> lines = Files.readAllLines(f);
        b.append("\n--- ").append(f.getFileName()).append('\n');
        lines.subList(Math.max(0, lines.size() - 5), lines.size())
            .forEach(l -> b.append(l).append('\n'));
      }
    } catch (IOException e) {
      b.append(e);
    }
    return b.toString();
  }

  /** The cluster's ceph.conf, for {@code rbd:POOL/IMAGE:conf=PATH}. */
  public Path conf() {
    return conf;
  }

  /** Runs {@code ceph} against the cluster; its output. */
  public String ceph(String... args) throws Exception {
    return cli("ceph", args);
  }

  /** Runs {@code rbd} against the cluster; its output. */
  public String rbd(String... args) throws Exception {
    return cli("rbd", args);
  }

  private String cli(String tool, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of(tool, "-c", conf.toString()));
    if (tool.equals("ceph")) {
      command.addAll(List.of("--connect-timeout", "30"));
    }
    command.addAll(List.of(args));
    return tools.ok(command, 120);
  }

  /** Creates an image of {@code size} (rbd's units: 64M, 1G) in pool rbd. */
  public void createImage(String name, String size) throws Exception {
    rbd("create", "rbd/" + name, "--size", size);
  }

  /** The {@code rbd:} path of an image of pool rbd. */
  public String path(String image) {
    return "rbd:rbd/" + image + ":conf=" + conf;
  }

  /** Stops the cluster and removes everything it kept. */
  @Override
  public void close() throws Exception {
    for (Process p : daemons) {
      p.destroy();
    }
    for (Process p : daemons) {
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
    }
    tools.close();
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.sorted((a, b) -> b.compareTo(a)).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
