package dev.jdm.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real tools a test needs (nbdinfo, nbdfuse, losetup, mkfs.ext4, fio) as processes, each with a
 * deadline, and kills whatever is still running on {@link #close()}, even when the test failed.
 * A missing tool fails the test with its name; it is never skipped.
 */
public final class ExternalTools implements AutoCloseable {
  private final Path dir;
  private final List<Process> processes = new ArrayList<>();

  /** Keeps the output of the tools in {@code dir}. */
  public ExternalTools(Path dir) {
    this.dir = dir;
  }

  /** What a finished process printed. */
  public record Result(int exit, String out, String err) {}

  /** Runs {@code command} to its end; fails the test if it takes longer than the timeout. */
  public Result run(List<String> command, int timeoutSeconds) throws Exception {
    require(command.getFirst());
    Path out = Files.createTempFile(dir, "out", ".txt");
    Path err = Files.createTempFile(dir, "err", ".txt");
    Process p = track(new ProcessBuilder(command).redirectOutput(out.toFile())
        .redirectError(err.toFile()).start());
    try {
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        kill(p);
        fail(String.join(" ", command) + ": still running after " + timeoutSeconds + " s: "
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

  /** Runs {@code command}, which must succeed; returns its standard output. */
  public String ok(List<String> command, int timeoutSeconds) throws Exception {
    Result r = run(command, timeoutSeconds);
    assertEquals(0, r.exit(), () -> String.join(" ", command) + " failed: " + r.err() + r.out());
    return r.out();
  }

  /** Starts a long-running tool, its output going to {@code log}. */
  public Process spawn(List<String> command, Path log) throws IOException {
    require(command.getFirst());
    return track(new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(log.toFile()).start());
  }

  /** Waits for {@code file} to appear while {@code p} runs; fails after the timeout. */
  public static void awaitFile(Path file, Process p, int timeoutSeconds, Path log) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
    while (!Files.exists(file) && p.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    if (!Files.exists(file)) {
      fail(file + " did not appear: " + Files.readString(log));
    }
  }

  private Process track(Process p) {
    synchronized (processes) {
      processes.add(p);
    }
    return p;
  }

  /** Fails when {@code tool} is not installed; CI installs every tool the tests use. */
  public static void require(String tool) {
    if (tool.contains("/")) {
      return;
    }
    List<String> path = new ArrayList<>(List.of(
        System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")));
    path.addAll(List.of("/usr/sbin", "/sbin"));
    for (String d : path) {
      if (Files.isExecutable(Path.of(d, tool))) {
        return;
      }
    }
    fail(tool + " is not installed: jdm's tests need nbdkit, libnbd-bin, qemu-utils, fio, fuse3,"
        + " e2fsprogs, util-linux and openssl (.ci/run installs them)");
  }

  private static void kill(Process p) throws InterruptedException {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
    p.waitFor(10, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    List<Process> left;
    synchronized (processes) {
      left = new ArrayList<>(processes);
      processes.clear();
    }
    for (Process p : left) {
      kill(p);
    }
  }
}
