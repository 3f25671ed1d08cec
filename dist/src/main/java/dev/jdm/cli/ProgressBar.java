package dev.jdm.cli;

import java.io.PrintStream;

/**
 * A one-line progress bar on standard error for long operations, drawn only when jdm runs on a
 * terminal: in scripts and pipes it prints nothing.
 */
final class ProgressBar implements AutoCloseable {
  private static final int WIDTH = 30;

  private final PrintStream out;
  private final String label;
  private final long total;
  private int shown = -1;

  private ProgressBar(PrintStream out, String label, long total) {
    this.out = out;
    this.label = label;
    this.total = Math.max(1, total);
  }

  /** A bar on standard error for {@code total} units of work, or a silent one off a terminal. */
  static ProgressBar open(String label, long total) {
    var console = System.console();
    return to(console != null && console.isTerminal() ? System.err : null, label, total);
  }

  /** A bar drawn on {@code out}, or a silent one when it is null. */
  static ProgressBar to(PrintStream out, String label, long total) {
    return new ProgressBar(out, label, total);
  }

  /** A bar that never prints. */
  static ProgressBar silent() {
    return to(null, "", 1);
  }

  /** Redraws the bar when {@code done} moves it by a percent or more. */
  void at(long done) {
    int pct = (int) Math.min(100, done * 100 / total);
    if (out == null || pct == shown) {
      return;
    }
    shown = pct;
    int filled = pct * WIDTH / 100;
    out.print("\r" + label + " [" + "#".repeat(filled) + " ".repeat(WIDTH - filled) + "] "
        + pct + "%");
    out.flush();
  }

  /** Clears the bar's line. */
  @Override
  public void close() {
    if (out != null && shown >= 0) {
      out.print("\r" + " ".repeat(label.length() + WIDTH + 8) + "\r");
      out.flush();
    }
  }
}
