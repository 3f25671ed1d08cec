package dev.jdm.spi;

import java.util.function.Supplier;

/**
 * What the core gives a target's constructor: the device and segment it is built for, access to
 * backing devices, and the services stateful targets stand on (the kernel's dm-io, dm-kcopyd,
 * dm-bufio, events and workqueues). Valid during {@link TargetType#create} and for the target's
 * whole life; what the services hold is released when the target closes.
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

  /** I/O to several regions with one completion ({@code dm_io}). */
  default DeviceIo io() {
    throw new UnsupportedOperationException("this context offers no dm-io");
  }

  /** The background copier of this target ({@code dm-kcopyd}). */
  default Copier copier() {
    throw new UnsupportedOperationException("this context offers no copier");
  }

  /** Timers and worker pools, stopped when the target closes. */
  default Scheduler scheduler() {
    throw new UnsupportedOperationException("this context offers no scheduler");
  }

  /**
   * Cached, crash-consistent blocks of {@code device} starting at {@code offsetSectors}
   * ({@code dm-bufio}); closed when the target closes.
   *
   * @param blockSize bytes per block, a power of two from 512 to 1 MiB
   * @param checksums whether each block ends with a CRC-32C of the rest
   */
  default MetadataBlocks metadata(BlockDevice device, long offsetSectors, int blockSize,
      boolean checksums) throws TargetException {
    throw new UnsupportedOperationException("this context offers no metadata blocks");
  }

  /**
   * Tells whoever waits on the device that something changed (a leg failed, a resync ended): bumps
   * the device's event number, as {@code dm_table_event}. Safe from any thread.
   */
  default void raiseEvent() {
    throw new UnsupportedOperationException("this context offers no events");
  }

  /**
   * The object registered under {@code key} by this or another target of the same daemon, made by
   * {@code factory} when there is none yet: how a snapshot finds its origin. It stays while any
   * target that asked for it lives, and is closed (when {@link AutoCloseable}) after the last one.
   *
   * @throws ClassCastException when the object under {@code key} is not a {@code type}
   */
  default <T> T shared(String key, Class<T> type, Supplier<? extends T> factory) {
    throw new UnsupportedOperationException("this context offers no shared state");
  }
}
