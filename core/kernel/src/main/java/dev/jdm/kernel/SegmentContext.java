package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import java.util.ArrayList;
import java.util.List;

/** A target's view of the core: it remembers what the target opened, to release it all later. */
final class SegmentContext implements TargetContext {
  private final String device;
  private final long begin;
  private final boolean readOnly;
  private final BackingDevices backing;
  private final List<BlockDevice> opened = new ArrayList<>();

  SegmentContext(String device, long begin, boolean readOnly, BackingDevices backing) {
    this.device = device;
    this.begin = begin;
    this.readOnly = readOnly;
    this.backing = backing;
  }

  @Override
  public String deviceName() {
    return device;
  }

  @Override
  public long beginSector() {
    return begin;
  }

  @Override
  public boolean readOnly() {
    return readOnly;
  }

  @Override
  public synchronized BlockDevice openDevice(String path, DeviceMode mode)
      throws TargetException {
    if (readOnly && mode == DeviceMode.READ_WRITE) {
      throw new TargetException("Device lookup failed: " + path
          + ": read-write open in a read-only table");
    }
    BlockDevice d = backing.open(path, mode, device);
    opened.add(d);
    return d;
  }

  /** Releases every device this target opened. */
  synchronized void releaseAll() {
    for (BlockDevice d : opened) {
      backing.release(d, device);
    }
    opened.clear();
  }
}
