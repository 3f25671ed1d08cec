package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.TargetException;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Backing devices opened by targets, each opened once and shared with a reference count, like the
 * kernel's per-table {@code dm_dev} list. Files and block devices are keyed by their real path;
 * {@code /dev/mapper/NAME} names another jdm device, which then counts this use as an open.
 */
final class BackingDevices implements AutoCloseable {
  static final String MAPPER_PREFIX = "/dev/mapper/";

  private record Entry(String key, BlockDevice device, int refs) {}

  private final DeviceMapper mapper;
  private final Map<String, Entry> byKey = new HashMap<>();
  private final Map<BlockDevice, String> keys = new HashMap<>();

  BackingDevices(DeviceMapper mapper) {
    this.mapper = mapper;
  }

  synchronized BlockDevice open(String path, DeviceMode mode, String forDevice)
      throws TargetException {
    if (path.startsWith(MAPPER_PREFIX)) {
      return openMapped(path.substring(MAPPER_PREFIX.length()), mode, forDevice);
    }
    String key;
    try {
      key = Path.of(path).toRealPath().toString();
    } catch (NoSuchFileException e) {
      throw new TargetException("Device lookup failed: " + path + ": No such file or directory");
    } catch (IOException | RuntimeException e) {
      throw new TargetException("Device lookup failed: " + path + ": " + e.getMessage());
    }
    Entry e = byKey.get(key);
    if (e != null && e.device() instanceof FileDevice f) {
      try {
        f.refreshSize();
      } catch (IOException | RuntimeException x) {
        throw new TargetException("Device lookup failed: " + path + ": " + x.getMessage());
      }
    }
    if (e == null) {
      try {
        FileDevice f = FileDevice.open(path, Path.of(key), true);
        e = new Entry(key, f, 0);
      } catch (IOException | RuntimeException x) {
        throw new TargetException("Device lookup failed: " + path + ": " + x.getMessage());
      }
    }
    if (mode == DeviceMode.READ_WRITE && e.device().readOnly()) {
      if (e.refs() == 0) {
        ((FileDevice) e.device()).close();
      }
      throw new TargetException("Device lookup failed: " + path + ": not writable");
    }
    keep(e);
    return e.device();
  }

  private BlockDevice openMapped(String name, DeviceMode mode, String forDevice)
      throws TargetException {
    MappedDevice d = mapper.find(name).orElseThrow(() -> new TargetException(
        "Device lookup failed: " + MAPPER_PREFIX + name + ": no such jdm device"));
    if (name.equals(forDevice) || d.uses(forDevice)) {
      throw new TargetException("Device lookup failed: " + MAPPER_PREFIX + name
          + ": would make a loop of devices");
    }
    if (mode == DeviceMode.READ_WRITE && d.readOnly()) {
      throw new TargetException("Device lookup failed: " + MAPPER_PREFIX + name
          + ": device is read-only");
    }
    try {
      d.hold();
    } catch (DmException gone) {
      throw new TargetException("Device lookup failed: " + MAPPER_PREFIX + name
          + ": no such jdm device");
    }
    Entry e = byKey.getOrDefault(MAPPER_PREFIX + name, new Entry(MAPPER_PREFIX + name, d, 0));
    keep(e);
    return d;
  }

  private void keep(Entry e) {
    byKey.put(e.key(), new Entry(e.key(), e.device(), e.refs() + 1));
    keys.put(e.device(), e.key());
  }

  synchronized void release(BlockDevice device) {
    String key = keys.get(device);
    Entry e = key == null ? null : byKey.get(key);
    if (e == null) {
      return;
    }
    if (device instanceof MappedDevice m) {
      m.unhold();
    }
    if (e.refs() > 1) {
      byKey.put(key, new Entry(key, device, e.refs() - 1));
      return;
    }
    byKey.remove(key);
    keys.remove(device);
    if (device instanceof FileDevice f) {
      f.close();
    }
  }

  /** How many distinct backing devices are open (tests check that nothing leaks). */
  synchronized int openCount() {
    return byKey.size();
  }

  @Override
  public synchronized void close() {
    for (Entry e : byKey.values()) {
      if (e.device() instanceof FileDevice f) {
        f.close();
      }
    }
    byKey.clear();
    keys.clear();
  }
}
