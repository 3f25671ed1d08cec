package dev.jdm.spi;

/**
 * What the core gives a target's constructor: the device and segment it is built for, and access
 * to backing devices. Valid during {@link TargetType#create} and for the target's whole life.
 */
public interface TargetContext {
  /** The name of the jdm device whose table is being built (for messages and logs). */
  String deviceName();

  /** The first sector of this target's segment in the device. */
  long beginSector();

  /** Whether the table is loaded read-only; then devices may only be opened READ_ONLY. */
  boolean readOnly();

  /**
   * Opens a backing device, or shares the one already open under that path (the kernel's
   * {@code dm_get_device}). The core releases every device a target opened when the target closes,
   * or when its constructor throws.
   *
   * @param path a regular file, a block device, or {@code /dev/mapper/NAME} for another jdm device
   * @param mode how the target will use it
   * @throws TargetException "Device lookup failed" when it cannot be opened in that mode
   */
  BlockDevice openDevice(String path, DeviceMode mode) throws TargetException;
}
