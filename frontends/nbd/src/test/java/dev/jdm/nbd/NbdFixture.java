package dev.jdm.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.Frontend;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real device mapper with the real targets of the class path, an NBD server started through its
 * provider on a Unix socket in a temp directory, and helpers to run the real NBD clients as
 * processes. Everything it made is removed by {@link #close()}, even when a test failed.
 */
final class NbdFixture implements AutoCloseable {
  final Path dir;
  final TargetRegistry registry = new TargetRegistry();
  final DeviceMapper mapper;
  final NbdServer server;
  final String socket;
  private final List<Process> processes = new ArrayList<>();

  private NbdFixture(Path dir, String config) throws Exception {
    this.dir = dir;
    List<String> problems = registry.discover(NbdFixture.class.getClassLoader(), "class path");
    if (!problems.isEmpty()) {
      throw new IllegalStateException("targets did not load: " + problems);
    }
    this.socket = dir.resolve("nbd.sock").toString();
    Config c = ConfigFactory.parseString(config)
        .withFallback(ConfigFactory.parseString(
            "jdm.frontends.nbd.listen = [\"unix:" + socket + "\"]"))
        .withFallback(ConfigFactory.defaultReference());
    this.mapper = new DeviceMapper(registry, c);
    Frontend f = new NbdFrontendProvider().start(mapper, c).orElseThrow();
    this.server = (NbdServer) f;
  }

  /** A fixture with the default configuration plus {@code config} (HOCON). */
  static NbdFixture start(String config) throws Exception {
    Path dir = Files.createTempDirectory("jdm-nbd-test");
    try {
      return new NbdFixture(dir, config);
    } catch (Exception | Error e) {
      deleteTree(dir);
      throw e;
    }
  }

  static NbdFixture start() throws Exception {
    return start("");
  }

  /** A sparse file of {@code bytes} in the temp directory. */
  Path file(String name, long bytes) throws IOException {
    Path p = dir.resolve(name);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(bytes);
    }
    return p;
  }

  /** A file of {@code bytes} of random data. */
  Path randomFile(String name, long bytes) throws Exception {
    Path p = dir.resolve(name);
    run(List.of("sh", "-c", "head -c " + bytes + " /dev/urandom > " + p), 120);
    return p;
  }

  /** A linear device over the whole of {@code file}. */
  MappedDevice linear(String name, Path file) throws Exception {
    long sectors = Files.size(file) / 512;
    return mapper.create(name, "0 " + sectors + " linear " + file + " 0", false);
  }

  MappedDevice create(String name, String table, boolean readOnly) throws Exception {
    return mapper.create(name, table, readOnly);
  }

  /** The libnbd URI of an export. */
  String uri(String export) {
    return "nbd+unix:///" + export + "?socket=" + socket;
  }

  /** What a finished process printed. */
  record Result(int exit, String out, String err) {}

  /** Runs a client and returns its output; fails the test if it does not end in time. */
  Result run(List<String> command, int timeoutSeconds) throws Exception {
    requireTool(command.getFirst());
    ProcessBuilder pb = new ProcessBuilder(command);
    Path out = Files.createTempFile(dir, "out", ".txt");
    Path err = Files.createTempFile(dir, "err", ".txt");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    Process p = pb.start();
    synchronized (processes) {
      processes.add(p);
    }
    try {
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        fail(String.join(" ", command) + ": still running after " + timeoutSeconds + " s; "
            + Files.readString(err));
      }
      return new Result(p.exitValue(), Files.readString(out), Files.readString(err));
    } finally {
      synchronized (processes) {
        processes.remove(p);
      }
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  /** Runs a client that must succeed; returns its standard output. */
  String ok(List<String> command, int timeoutSeconds) throws Exception {
    Result r = run(command, timeoutSeconds);
    assertEquals(0, r.exit(), () -> String.join(" ", command) + " failed: " + r.err() + r.out());
    return r.out();
  }

  /** Starts a long-running client (nbdfuse); it is killed by {@link #close()} at the latest. */
  Process spawn(List<String> command, Path log) throws IOException {
    requireTool(command.getFirst());
    Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
        .start();
    synchronized (processes) {
      processes.add(p);
    }
    return p;
  }

  /** Fails (never skips) when a client the tests need is not installed; CI installs them. */
  static void requireTool(String tool) {
    if (tool.contains("/")) {
      return;
    }
    for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      if (Files.isExecutable(Path.of(d, tool))) {
        return;
      }
    }
    for (String d : List.of("/usr/sbin", "/sbin")) {
      if (Files.isExecutable(Path.of(d, tool))) {
        return;
      }
    }
    fail(tool + " is not installed: the NBD tests need nbdkit, libnbd-bin, qemu-utils, fio,"
        + " fuse3, e2fsprogs and util-linux (.ci/run installs them)");
  }

  static String sha256(Path file) throws IOException, NoSuchAlgorithmException {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    try (var in = Files.newInputStream(file)) {
      byte[] buf = new byte[1 << 20];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return HexFormat.of().formatHex(md.digest());
  }

  static String text(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }

  @Override
  public void close() throws IOException {
    List<Process> left;
    synchronized (processes) {
      left = new ArrayList<>(processes);
    }
    for (Process p : left) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      try {
        p.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try {
      server.close();
    } finally {
      mapper.close();
      deleteTree(dir);
    }
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.sorted((a, b) -> b.compareTo(a)).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
