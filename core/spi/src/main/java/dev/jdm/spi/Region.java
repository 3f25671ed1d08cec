package dev.jdm.spi;

/**
 * A range of sectors on one device, the kernel's {@code struct dm_io_region}: what {@link DeviceIo}
 * and {@link Copier} read and write. Mutable so that a target can keep its regions in final fields
 * or in its {@link RequestData} and refill them per request without allocating.
 */
public final class Region {
  private BlockDevice device;
  private long sector;
  private long sectors;

  /** An empty region; {@link #set} it before use. */
  public Region() {}

  /** A region of {@code sectors} sectors from {@code sector} of {@code device}. */
  public Region(BlockDevice device, long sector, long sectors) {
    set(device, sector, sectors);
  }

  /** Points the region at {@code sectors} sectors from {@code sector} of {@code device}. */
  public Region set(BlockDevice device, long sector, long sectors) {
    this.device = device;
    this.sector = sector;
    this.sectors = sectors;
    return this;
  }

  /** The device. */
  public BlockDevice device() {
    return device;
  }

  /** The first sector. */
  public long sector() {
    return sector;
  }

  /** The length in sectors. */
  public long sectors() {
    return sectors;
  }

  @Override
  public String toString() {
    return (device == null ? "?" : device.path()) + "@" + sector + "+" + sectors;
  }
}
