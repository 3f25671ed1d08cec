package dev.jdm.cli;

import dev.jdm.testkit.ExternalTools;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;

/**
 * A daemon in this JVM serving NBD on a Unix socket in a temp directory, the jdm command run
 * against it, and real clients run as processes. Closing it stops the clients still running, then
 * the daemon.
 */
final class NbdDaemon implements AutoCloseable {
  final Path dir;
  final InProcessDaemon daemon;
  final ExternalTools tools;
  private final Path socket;

  private NbdDaemon(Path dir, InProcessDaemon daemon, Path socket) {
    this.dir = dir;
    this.daemon = daemon;
    this.socket = socket;
    this.tools = new ExternalTools(dir);
  }

  /** Starts a daemon whose files live in {@code dir}. */
  static NbdDaemon start(Path dir) throws Exception {
    Path socket = dir.resolve("nbd.sock");
    return new NbdDaemon(dir, InProcessDaemon.start(dir,
        "frontends.nbd { enabled = true, listen = [\"unix:" + socket + "\"] }"), socket);
  }

  /** Runs {@code jdm args...}, which must succeed; returns its output. */
  String jdm(String... args) {
    return daemon.jdm(args).ok();
  }

  /** Runs {@code jdm args...} whatever it does. */
  CliResult tryJdm(String... args) {
    return daemon.jdm(args);
  }

  /** The NBD URI of device {@code name}. */
  String uri(String name) {
    return "nbd+unix:///" + name + "?socket=" + socket;
  }

  /** A sparse file of {@code bytes} in the temp directory. */
  Path file(String name, long bytes) throws Exception {
    Path p = dir.resolve(name);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(bytes);
    }
    return p;
  }

  /** {@code qemu-io -f raw -c COMMAND URI}: its output (qemu-io exits 0 even when I/O fails). */
  String qemuIo(String name, String command) throws Exception {
    ExternalTools.Result r = tools.run(List.of("qemu-io", "-f", "raw", "-c", command, uri(name)),
        120);
    return r.out() + r.err();
  }

  /**
   * Runs a Python snippet in nbdsh connected to device {@code name} as {@code h}, with the
   * system's python3 first on the PATH: libnbd's Python module is installed for that one.
   */
  String nbdsh(String name, String python) throws Exception {
    ExternalTools.require("nbdsh");
    return tools.ok(List.of("env", "PATH=/usr/bin:/bin:" + System.getenv("PATH"), "nbdsh",
        "-u", uri(name), "-c", python), 120);
  }

  @Override
  public void close() throws Exception {
    try {
      tools.close();
    } finally {
      daemon.close();
    }
  }
}
