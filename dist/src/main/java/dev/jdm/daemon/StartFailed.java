package dev.jdm.daemon;

/** The daemon cannot start; the message is one line saying why. Nothing is left running. */
public final class StartFailed extends Exception {
  private static final long serialVersionUID = 1L;

  public StartFailed(String message) {
    super(message);
  }

  public StartFailed(String message, Throwable cause) {
    super(message, cause);
  }
}
