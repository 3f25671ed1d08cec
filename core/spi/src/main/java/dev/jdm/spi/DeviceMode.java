package dev.jdm.spi;

/** How a target opens a backing device; the kernel's {@code fmode_t} for {@code dm_get_device}. */
public enum DeviceMode {
  /** The target only reads from the device. */
  READ_ONLY,
  /** The target reads and writes. */
  READ_WRITE
}
