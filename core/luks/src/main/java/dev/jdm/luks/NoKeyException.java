package dev.jdm.luks;

/** No keyslot opens with the passphrase given; cryptsetup's words. */
public final class NoKeyException extends LuksException {
  private static final long serialVersionUID = 1L;

  public NoKeyException() {
    super("No key available with this passphrase.");
  }
}
