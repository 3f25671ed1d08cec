package dev.jdm.testkit;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One nbdkit server on a Unix socket in a test's directory, for tests of remote NBD backing
 * devices: started with a plugin and its filters, killed and started again at will to play a
 * server that goes away, and always stopped by {@link #close()}. nbdkit also exits with the JVM
 * ({@code --exit-with-parent}).
 */
public final class Nbdkit implements AutoCloseable {
  private final Path dir;
  private final String name;
  private final List<String> args;
  private final Path socket;
  private Process process;

  private Nbdkit(Path dir, String name, List<String> args) {
    this.dir = dir;
    this.name = name;
    this.args = List.copyOf(args);
    this.socket = dir.resolve(name + ".sock");
  }

  /**
   * Starts {@code nbdkit [filters] plugin [params]} as {@code args} say, e.g.
   * {@code List.of("--filter=delay", "memory", "64M", "delay-read=10ms")}, its socket and log named
   * after {@code name} in {@code dir}.
   */
  public static Nbdkit start(Path dir, String name, List<String> args) throws Exception {
    ExternalTools.require("nbdkit");
    Nbdkit n = new Nbdkit(dir, name, args);
    n.start();
    return n;
  }

  /** Starts the server again with the same arguments, on the same socket. */
  public void start() throws Exception {
    if (process != null && process.isAlive()) {
      throw new IllegalStateException(name + " is running");
    }
    Path pid = dir.resolve(name + ".pid");
    Files.deleteIfExists(pid);
    Files.deleteIfExists(socket);
    List<String> command = new ArrayList<>(List.of("nbdkit", "--foreground",
        "--exit-with-parent", "--unix", socket.toString(), "--pidfile", pid.toString()));
    command.addAll(args);
    Path log = dir.resolve(name + ".log");
    process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    ExternalTools.awaitFile(pid, process, 30, log);
    if (!process.isAlive()) {
      fail("nbdkit " + String.join(" ", args) + " exited: " + Files.readString(log));
    }
  }

  /** Kills the server at once (SIGKILL): connections drop with requests in flight. */
  public void kill() throws InterruptedException {
    if (process != null) {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** The socket it listens on. */
  public Path socket() {
    return socket;
  }

  /** libnbd's URI of its default export. */
  public String uri() {
    return "nbd+unix:///?socket=" + socket;
  }

  /** Whether it runs. */
  public boolean alive() {
    return process != null && process.isAlive();
  }

  @Override
  public void close() throws IOException, InterruptedException {
    kill();
    Files.deleteIfExists(socket);
    Files.deleteIfExists(dir.resolve(name + ".pid"));
  }
}
