package dev.jdm.spi;

/**
 * How a request ended. The names are the errno names NBD and FUSE use on the wire, so each
 * frontend maps them without a table of bare numbers.
 */
public enum IoStatus {
  /** Done. */
  OK(0),
  /** Operation not permitted: a write to a read-only device. */
  EPERM(1),
  /** Input/output error: the device or target failed the request. */
  EIO(5),
  /** No memory or buffer for the request. */
  ENOMEM(12),
  /** Invalid request: unaligned, zero-length where a length is needed, or out of range. */
  EINVAL(22),
  /** No space: a write past the end of the device. */
  ENOSPC(28),
  /** Value too large: the request is longer than the frontend allows. */
  EOVERFLOW(75),
  /** The target cannot do this operation (e.g. DISCARD on a target that declares no support). */
  EOPNOTSUPP(95),
  /** The device is going away. */
  ESHUTDOWN(108);

  private final int errno;

  IoStatus(int errno) {
    this.errno = errno;
  }

  /** The Linux errno value with this name (0 for OK). */
  public int errno() {
    return errno;
  }

  /** Whether the request succeeded. */
  public boolean ok() {
    return this == OK;
  }
}
