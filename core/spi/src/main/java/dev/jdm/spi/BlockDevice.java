package dev.jdm.spi;

/**
 * A device a target sends I/O to: a regular file, a block device such as {@code /dev/loop0}, or
 * another jdm device ({@code /dev/mapper/NAME}, for stacking). Obtained from
 * {@link TargetContext#openDevice}; the core owns it and closes it when the last user is gone.
 */
public interface BlockDevice {
  /** The path or name it was opened by, as it appears in tables. */
  String path();

  /** Its size in 512-byte sectors. */
  long sizeInSectors();

  /** Whether it refuses writes. */
  boolean readOnly();

  /**
   * Performs {@code request} at {@link IoRequest#sector()} of this device and completes it, on this
   * thread or later on another. Never throws for I/O failures: they become the request's status.
   * The request must lie inside the device.
   */
  void submit(IoRequest request);

  /** Whether the device does {@code op} natively (FLUSH, READ and WRITE always are). */
  default boolean supports(IoOp op) {
    return op == IoOp.READ || op == IoOp.WRITE || op == IoOp.FLUSH;
  }

  /** Its I/O hints. */
  default IoLimits limits() {
    return IoLimits.DEFAULT;
  }

  /**
   * Reports allocation from {@code sector} for up to {@code sectors} sectors, in order; the default
   * says everything is allocated data.
   */
  default void blockStatus(long sector, long sectors, ExtentSink sink) {
    sink.extent(sectors, 0);
  }
}
