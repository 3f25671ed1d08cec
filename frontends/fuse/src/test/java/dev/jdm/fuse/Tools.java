package dev.jdm.fuse;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs the real system tools the tests use, and fails clearly when one is missing. */
final class Tools {
  /** Long enough for mkfs and fio on a loaded two-core machine. */
  static final Duration TIMEOUT = Duration.ofMinutes(3);

  private Tools() {}

  /** What a finished command printed and returned. */
  record Result(List<String> command, int exit, String out, String err) {
    /** Fails the test unless the command exited 0. */
    Result ok() {
      if (exit != 0) {
        fail(String.join(" ", command) + " exited " + exit + "\nstdout: " + out + "\nstderr: "
            + err);
      }
      return this;
    }
  }

  /** Fails the test when {@code tool} is not on the PATH (or in /sbin, /usr/sbin). */
  static void require(String tool) {
    List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "")
        .split(File.pathSeparator)));
    dirs.addAll(List.of("/sbin", "/usr/sbin"));
    for (String d : dirs) {
      if (!d.isEmpty() && Files.isExecutable(Path.of(d, tool))) {
        return;
      }
    }
    fail(tool + " is not installed; the FUSE tests need it (apt-get install fio e2fsprogs"
        + " util-linux fuse3)");
  }

  /** Runs {@code command}, waiting up to {@link #TIMEOUT}; kills it on timeout. */
  static Result run(String... command) {
    return run(TIMEOUT, command);
  }

  /** Runs {@code command}, waiting up to {@code timeout}; kills it on timeout. */
  static Result run(Duration timeout, String... command) {
    require(command[0]);
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().put("PATH", System.getenv().getOrDefault("PATH", "/usr/bin:/bin")
        + ":/usr/sbin:/sbin");
    try {
      Process p = pb.start();
      p.getOutputStream().close();
      CompletableFuture<String> out = drain(p.getInputStream());
      CompletableFuture<String> err = drain(p.getErrorStream());
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        fail(String.join(" ", command) + " did not finish within " + timeout);
      }
      return new Result(List.of(command), p.exitValue(), out.join(), err.join());
    } catch (IOException e) {
      throw new AssertionError("cannot run " + String.join(" ", command) + ": " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted running " + String.join(" ", command), e);
    }
  }

  /** Reads a stream to its end on a thread of its own (the common pool may have one thread). */
  private static CompletableFuture<String> drain(InputStream in) {
    CompletableFuture<String> text = new CompletableFuture<>();
    Thread.ofPlatform().daemon().start(() -> {
      try (in) {
        text.complete(new String(in.readAllBytes(), StandardCharsets.UTF_8));
      } catch (IOException e) {
        text.complete("(unreadable: " + e + ")");
      }
    });
    return text;
  }
}
