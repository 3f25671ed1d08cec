package dev.jdm.daemon;

import java.util.List;

/**
 * The configuration cannot be used. Each line of the message names one problem, starting with the
 * file and line it comes from ({@code /etc/jdm.conf: 3: unknown key jdm.runtme-dir}).
 */
public final class ConfigProblem extends Exception {
  private static final long serialVersionUID = 1L;

  public ConfigProblem(String line) {
    super(line);
  }

  public ConfigProblem(List<String> lines) {
    super(String.join("\n", lines));
  }
}
