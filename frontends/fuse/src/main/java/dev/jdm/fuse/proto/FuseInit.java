package dev.jdm.fuse.proto;

/**
 * What the kernel and the session agreed on in INIT.
 *
 * @param minor the protocol minor version in use (the major is always 7)
 * @param flags the INIT flags both sides want, {@code FuseWire} INIT flags
 * @param maxWrite the largest WRITE the kernel sends
 * @param maxRead the largest READ the kernel sends
 */
public record FuseInit(int minor, long flags, int maxWrite, int maxRead) {
  /** Whether {@code flag} was agreed. */
  public boolean has(long flag) {
    return (flags & flag) != 0;
  }
}
