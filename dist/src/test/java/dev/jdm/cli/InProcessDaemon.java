package dev.jdm.cli;

import dev.jdm.daemon.Daemon;
import dev.jdm.daemon.JdmConfig;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A daemon started in this JVM from a config file in a temporary directory (its runtime and state
 * dirs there too, targets from the test class path), and the jdm command run against it in this
 * JVM, as a shell would run it.
 */
final class InProcessDaemon implements AutoCloseable {
  final Path dir;
  final Path config;
  final Daemon daemon;

  private InProcessDaemon(Path dir, Path config, Daemon daemon) {
    this.dir = dir;
    this.config = config;
    this.daemon = daemon;
  }

  /** Starts a daemon whose config file holds {@code body} inside {@code jdm { }}. */
  static InProcessDaemon start(Path dir, String body) throws Exception {
    Path config = writeConfig(dir, body);
    return new InProcessDaemon(dir, config,
        Daemon.start(JdmConfig.load(Optional.of(config), Map.of())));
  }

  /** Writes the config file, with runtime, state and plugins dirs under {@code dir}. */
  static Path writeConfig(Path dir, String body) throws Exception {
    Path config = dir.resolve("jdm.conf");
    Files.writeString(config, "jdm {\n"
        + "  runtime-dir = \"" + dir.resolve("run") + "\"\n"
        + "  state-dir = \"" + dir.resolve("state") + "\"\n"
        + "  plugins-dir = \"" + dir.resolve("no-plugins") + "\"\n"
        // Tests that need the NBD frontend turn it on.
        + "  frontends.nbd.enabled = false\n"
        + body + "\n}\n");
    return config;
  }

  /** The number of the first line of {@code config} that holds {@code text}. */
  static int lineOf(Path config, String text) throws Exception {
    List<String> lines = Files.readAllLines(config);
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).contains(text)) {
        return i + 1;
      }
    }
    throw new AssertionError(text + " not in " + config);
  }

  Path runtimeDir() {
    return dir.resolve("run");
  }

  /** Runs {@code jdm --runtime-dir DIR args...} with {@code stdin}, as {@code echo | jdm} would. */
  CliResult pipe(String stdin, String... args) {
    List<String> all = new ArrayList<>(List.of("--runtime-dir", runtimeDir().toString()));
    all.addAll(List.of(args));
    return run(stdin, all.toArray(String[]::new));
  }

  /** Runs {@code jdm args...} with an empty standard input. */
  CliResult jdm(String... args) {
    return pipe("", args);
  }

  /** Runs {@code jdm args...} exactly as given. */
  static CliResult run(String stdin, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Jdm.run(args, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new CliResult(code, out.toString(StandardCharsets.UTF_8),
        err.toString(StandardCharsets.UTF_8));
  }

  @Override
  public void close() {
    daemon.close();
  }
}
