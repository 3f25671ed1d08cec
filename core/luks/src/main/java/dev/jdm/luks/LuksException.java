package dev.jdm.luks;

/** A header that cannot be read or used, with a one-line reason for the user. */
public class LuksException extends Exception {
  private static final long serialVersionUID = 1L;

  public LuksException(String message) {
    super(message);
  }

  public LuksException(String message, Throwable cause) {
    super(message, cause);
  }
}
