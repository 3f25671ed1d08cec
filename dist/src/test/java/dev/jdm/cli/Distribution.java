package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The packaged distribution the integration tests run: {@code dist/target/jdm/} (failsafe passes
 * it as {@code jdm.dist}), and its {@code bin/jdm} run as a separate process.
 */
final class Distribution {
  /** Generous: the build machine may be busy with other builds. */
  static final long TIMEOUT_SECONDS = 180;

  private Distribution() {}

  /**
   * The environment a test daemon and its verbs run in: runtime and state dirs under {@code dir},
   * and the NBD frontend off: tests that need it say where it listens.
   */
  static Map<String, String> env(Path dir) {
    return Map.of("JDM_RUNTIME_DIR", dir.resolve("run").toString(),
        "JDM_STATE_DIR", dir.resolve("state").toString(),
        "CONFIG_FORCE_jdm_frontends_nbd_enabled", "false");
  }

  /** The tree built by {@code mvn package}. */
  static Path home() {
    String p = System.getProperty("jdm.dist");
    if (p == null || !Files.isExecutable(Path.of(p, "bin", "jdm"))) {
      fail("no distribution at " + p + ": run these tests with 'mvn verify', which packages it");
    }
    return Path.of(p);
  }

  /** Starts {@code home/bin/jdm args...} with {@code env} added to this JVM's environment. */
  static Process start(Path home, Map<String, String> env, List<String> args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(home.resolve("bin/jdm").toString());
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(env);
    return pb.start();
  }

  /** Runs {@code home/bin/jdm args...} with {@code stdin} to its end. */
  static CliResult run(Path home, Map<String, String> env, String stdin, String... args)
      throws Exception {
    Process p = start(home, env, List.of(args));
    try {
      CompletableFuture<String> out = drain(p.getInputStream());
      CompletableFuture<String> err = drain(p.getErrorStream());
      try (OutputStream in = p.getOutputStream()) {
        in.write(stdin.getBytes(StandardCharsets.UTF_8));
      } catch (IOException closedEarly) {
        // jdm did not read its input, as for most verbs.
      }
      assertTrue(p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS), "jdm " + String.join(" ", args)
          + " did not finish in " + TIMEOUT_SECONDS + " s");
      return new CliResult(p.exitValue(), out.get(TIMEOUT_SECONDS, TimeUnit.SECONDS),
          err.get(TIMEOUT_SECONDS, TimeUnit.SECONDS));
    } finally {
      p.destroyForcibly();
    }
  }

  /** Reads a stream to its end on another thread. */
  static CompletableFuture<String> drain(InputStream s) {
    return CompletableFuture.supplyAsync(() -> {
      try (s) {
        return new String(s.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }, r -> Thread.ofVirtual().start(r));
  }
}
