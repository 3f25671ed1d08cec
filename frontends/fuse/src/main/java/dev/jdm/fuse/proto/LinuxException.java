package dev.jdm.fuse.proto;

import java.io.IOException;

/** A Linux call failed; keeps the errno for callers that decide on it. */
public final class LinuxException extends IOException {
  private static final long serialVersionUID = 1L;
  private final int errno;

  /** {@code call} failed with {@code errno}; reads e.g. "mount /mnt/x: Permission denied". */
  public LinuxException(String call, int errno) {
    super(call + ": " + LinuxCalls.describe(errno));
    this.errno = errno;
  }

  /** The errno the call set. */
  public int errno() {
    return errno;
  }
}
