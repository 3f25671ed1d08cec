package dev.jdm.nbd;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.Frontend;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.testkit.ExternalTools;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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
  private final ExternalTools tools;

  private NbdFixture(Path dir, String config) throws Exception {
    this.dir = dir;
    this.tools = new ExternalTools(dir);
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

  /** Waits until device {@code name} is gone: a removal waiting for its last user to close it. */
  void awaitRemoved(String name) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (mapper.find(name).isPresent()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(name + " still there after 30 s");
      }
      Thread.sleep(20);
    }
  }

  /** The libnbd URI of an export. */
  String uri(String export) {
    return "nbd+unix:///" + export + "?socket=" + socket;
  }

  /** Runs a client and returns its output; fails the test if it does not end in time. */
  ExternalTools.Result run(List<String> command, int timeoutSeconds) throws Exception {
    return tools.run(command, timeoutSeconds);
  }

  /** Runs a client that must succeed; returns its standard output. */
  String ok(List<String> command, int timeoutSeconds) throws Exception {
    return tools.ok(command, timeoutSeconds);
  }

  /** Starts a long-running client (nbdfuse); it is killed by {@link #close()} at the latest. */
  Process spawn(List<String> command, Path log) throws IOException {
    return tools.spawn(command, log);
  }

  /** Fails (never skips) when a client the tests need is not installed; CI installs them. */
  static void requireTool(String tool) {
    ExternalTools.require(tool);
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
    try {
      tools.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
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
