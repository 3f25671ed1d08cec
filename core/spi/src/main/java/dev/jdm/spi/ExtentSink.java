package dev.jdm.spi;

/**
 * Receives the allocation state of consecutive ranges, in order, for block status (NBD's
 * {@code base:allocation}, FUSE's SEEK_DATA / SEEK_HOLE).
 */
@FunctionalInterface
public interface ExtentSink {
  /** The range is not allocated: reads of it are served without stored data. */
  int HOLE = 1;
  /** Reads of the range return zeros. */
  int ZERO = 2;

  /**
   * Reports the next {@code sectors} sectors, starting where the previous extent ended.
   *
   * @param sectors how many sectors, at least 1
   * @param flags {@link #HOLE} and/or {@link #ZERO}, or 0 for allocated data
   * @return false when the sink has enough and the reporter should stop
   */
  boolean extent(long sectors, int flags);
}
