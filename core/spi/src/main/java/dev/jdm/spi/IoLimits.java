package dev.jdm.spi;

/**
 * I/O hints a target or device gives, in bytes, as the kernel's {@code queue_limits} do. The core
 * combines the hints of every segment (largest minimum, largest preferred) and frontends pass them to
 * clients (NBD's block size info, FUSE's block size).
 *
 * @param logicalBlockSize smallest addressable unit, a power of two of at least 512
 * @param minimumIo smallest I/O that performs well (e.g. a stripe chunk)
 * @param optimalIo preferred I/O size (e.g. a full stripe), 0 when none
 */
public record IoLimits(int logicalBlockSize, int minimumIo, int optimalIo) {
  /** Plain 512-byte sectors with a 4 KiB preference, what a regular file offers. */
  public static final IoLimits DEFAULT = new IoLimits(512, 4096, 0);

  public IoLimits {
    if (logicalBlockSize < 512 || Integer.bitCount(logicalBlockSize) != 1) {
      throw new IllegalArgumentException("logical block size must be a power of two >= 512");
    }
    if (minimumIo < logicalBlockSize || optimalIo < 0) {
      throw new IllegalArgumentException("minimum I/O below the logical block size");
    }
  }

  /** The hints of two stacked or adjacent pieces together: the stricter of each. */
  public IoLimits combine(IoLimits other) {
    return new IoLimits(
        Math.max(logicalBlockSize, other.logicalBlockSize),
        Math.max(minimumIo, other.minimumIo),
        Math.max(optimalIo, other.optimalIo));
  }
}
