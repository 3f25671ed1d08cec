package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** What one run of {@code jdm} did: exit code, standard output, standard error. */
record CliResult(int code, String out, String err) {
  /** Checks that it succeeded with nothing on standard error; returns standard output. */
  String ok() {
    assertEquals(0, code, () -> "exit " + code + ", stderr: " + err + ", stdout: " + out);
    assertEquals("", err, "stderr");
    return out;
  }

  /** Checks that it failed (exit 1) with exactly one line on standard error; returns that line. */
  String failed() {
    assertEquals(1, code, () -> "exit " + code + ", stderr: " + err + ", stdout: " + out);
    assertEquals(1, err.lines().count(), () -> "one line on stderr, got: " + err);
    assertEquals("", out, "stdout");
    return err.strip();
  }
}
