package dev.jdm.kernel;

/**
 * A control operation failed. The message is one line that names what was wrong and where, e.g.
 * {@code my_dev: linear: Invalid argument count (line 1)}; it is what the CLI prints.
 */
public class DmException extends Exception {
  private static final long serialVersionUID = 1L;

  public DmException(String message) {
    super(message);
  }

  public DmException(String message, Throwable cause) {
    super(message, cause);
  }
}
