package dev.jdm.spi;

/**
 * A target refuses its arguments or an operation. The message is a short fixed phrase, as the
 * kernel's {@code ti->error} is ("Invalid argument count", "Invalid device sector", "Device lookup
 * failed"); the core prefixes device name and target type and reports it once. Targets never log
 * such errors themselves.
 */
public class TargetException extends Exception {
  private static final long serialVersionUID = 1L;

  /** A refusal with a short fixed phrase. */
  public TargetException(String phrase) {
    super(phrase);
  }

  /** A refusal whose underlying cause is kept for the daemon's debug log only. */
  public TargetException(String phrase, Throwable cause) {
    super(phrase, cause);
  }
}
