package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A {@code bin/jdm serve} process of the distribution, started and waited for until it prints
 * {@code jdm ready}. Closing it kills it if a test has not stopped it already, so nothing outlives
 * a failed test.
 */
final class ServeProcess implements AutoCloseable {
  private final Process process;
  private final List<String> out = new ArrayList<>();
  private final CompletableFuture<String> err;

  private ServeProcess(Process process) {
    this.process = process;
    this.err = Distribution.drain(process.getErrorStream());
    Thread.ofVirtual().start(() -> {
      try (BufferedReader r = new BufferedReader(
          new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          synchronized (out) {
            out.add(line);
            out.notifyAll();
          }
        }
      } catch (IOException e) {
        // the process is gone
      }
    });
  }

  /** Starts {@code jdm serve args...} and waits for its ready line. */
  static ServeProcess start(Path home, Map<String, String> env, String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of("serve"));
    all.addAll(List.of(args));
    ServeProcess s = new ServeProcess(Distribution.start(home, env, all));
    try {
      s.awaitLine(l -> l.startsWith("jdm ready"));
    } catch (Throwable e) {
      s.close();
      throw e;
    }
    return s;
  }

  /** Waits until it has printed a line that {@code wanted} accepts; returns that line. */
  String awaitLine(Predicate<String> wanted) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Distribution.TIMEOUT_SECONDS);
    synchronized (out) {
      while (true) {
        Optional<String> line = out.stream().filter(wanted).findFirst();
        if (line.isPresent()) {
          return line.get();
        }
        if (!process.isAlive()) {
          process.waitFor();
          fail("jdm serve exited " + process.exitValue() + " before printing the line wanted"
              + " (printed " + out + "): " + err.get(Distribution.TIMEOUT_SECONDS, TimeUnit.SECONDS));
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          fail("jdm serve did not print the line wanted in " + Distribution.TIMEOUT_SECONDS
              + " s; printed " + out);
        }
        out.wait(Math.min(TimeUnit.NANOSECONDS.toMillis(left) + 1, 200));
      }
    }
  }

  /** What it printed on standard output so far. */
  List<String> out() {
    synchronized (out) {
      return List.copyOf(out);
    }
  }

  /** Its {@code jdm ready} line. */
  String readyLine() {
    return out().stream().filter(l -> l.startsWith("jdm ready")).findFirst().orElseThrow();
  }

  long pid() {
    return process.pid();
  }

  /** Sends {@code signal} (TERM, INT, KILL) and waits for the exit; returns the exit code. */
  int stop(String signal) throws Exception {
    Process kill = new ProcessBuilder("kill", "-s", signal, Long.toString(process.pid()))
        .inheritIO().start();
    assertTrue(kill.waitFor(Distribution.TIMEOUT_SECONDS, TimeUnit.SECONDS));
    assertTrue(process.waitFor(Distribution.TIMEOUT_SECONDS, TimeUnit.SECONDS),
        "jdm serve still running " + Distribution.TIMEOUT_SECONDS + " s after SIG" + signal);
    return process.exitValue();
  }

  /** Everything it logged; complete once it has exited. */
  String err() throws Exception {
    return err.get(Distribution.TIMEOUT_SECONDS, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.destroyForcibly();
      try {
        process.waitFor(Distribution.TIMEOUT_SECONDS, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
