package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.TargetException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Backing devices opened by targets, each opened once and shared with a reference count, like the
 * kernel's per-table {@code dm_dev} list. Files and block devices are keyed by their real path;
 * {@code /dev/mapper/NAME} names another jdm device, which then counts this use as an open; remote
 * devices ({@link RemoteDevices}) are keyed by their path as written. Each entry remembers which
 * jdm devices use it, for their status. As in the kernel's tables, a device may be named by its
 * numbers: {@code 7:0} for a block device, {@code 253:N} for the jdm device of minor N.
 */
final class BackingDevices implements AutoCloseable {
  static final String MAPPER_PREFIX = "/dev/mapper/";
  /** A device named by its numbers, as the kernel prints tables: {@code 7:0}, {@code 253:3}. */
  private static final Pattern MAJOR_MINOR = Pattern.compile("(\\d{1,9}):(\\d{1,9})");

  private record Entry(String key, BlockDevice device, int refs, List<String> users) {}

  private final DeviceMapper mapper;
  private final RemoteDevices remote;
  private final Map<String, Entry> byKey = new HashMap<>();
  private final Map<BlockDevice, String> keys = new HashMap<>();

  BackingDevices(DeviceMapper mapper, RemoteDevices remote) {
    this.mapper = mapper;
    this.remote = remote;
  }

  synchronized BlockDevice open(String path, DeviceMode mode, String forDevice)
      throws TargetException {
    if (path.startsWith(MAPPER_PREFIX)) {
      return openMapped(path.substring(MAPPER_PREFIX.length()), mode, forDevice);
    }
    if (RemoteDevices.names(path)) {
      return openRemote(path, mode, forDevice);
    }
    Matcher numbers = MAJOR_MINOR.matcher(path);
    if (numbers.matches() && Integer.parseInt(numbers.group(1)) == DeviceInfo.MAJOR) {
      return openMapped(byMinor(path, Integer.parseInt(numbers.group(2))), mode, forDevice);
    }
    String key;
    try {
      key = (numbers.matches() ? blockDevice(path) : Path.of(path)).toRealPath().toString();
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
        e = new Entry(key, f, 0, List.of());
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
    keep(e, forDevice);
    return e.device();
  }

  private BlockDevice openRemote(String path, DeviceMode mode, String forDevice)
      throws TargetException {
    Entry e = byKey.get(path);
    if (e == null) {
      try {
        BlockDevice d = remote.open(path);
        if (d instanceof dev.jdm.nbd.client.NbdDevice n) {
          // A connection lost or back is an event of every device whose table uses it.
          n.onStateChange(() -> mapper.raiseEventsOfUsers(n));
        }
        e = new Entry(path, d, 0, List.of());
      } catch (IOException | RuntimeException x) {
        throw new TargetException("Device lookup failed: " + path + ": " + x.getMessage(), x);
      }
    }
    if (mode == DeviceMode.READ_WRITE && e.device().readOnly()) {
      if (e.refs() == 0) {
        RemoteDevices.close(e.device());
      }
      throw new TargetException("Device lookup failed: " + path + ": read-only");
    }
    keep(e, forDevice);
    return e.device();
  }

  /**
   * The node of block device {@code major:minor}, as the kernel names it in {@code /sys/dev/block}
   * (what dmsetup tables print): {@code 7:0} is {@code /dev/loop0}.
   */
  private static Path blockDevice(String numbers) throws TargetException {
    try {
      Path sys = Files.readSymbolicLink(Path.of("/sys/dev/block", numbers));
      return Path.of("/dev", sys.getFileName().toString());
    } catch (IOException e) {
      throw new TargetException("Device lookup failed: " + numbers + ": no such block device");
    }
  }

  /** The name of the jdm device {@code 253:minor}. */
  private String byMinor(String numbers, int minor) throws TargetException {
    for (MappedDevice d : mapper.list()) {
      if (d.minor() == minor) {
        return d.name();
      }
    }
    throw new TargetException("Device lookup failed: " + numbers + ": no such jdm device");
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
    Entry e = byKey.getOrDefault(MAPPER_PREFIX + name,
        new Entry(MAPPER_PREFIX + name, d, 0, List.of()));
    keep(e, forDevice);
    return d;
  }

  private void keep(Entry e, String forDevice) {
    List<String> users = new ArrayList<>(e.users());
    users.add(forDevice);
    byKey.put(e.key(), new Entry(e.key(), e.device(), e.refs() + 1, List.copyOf(users)));
    keys.put(e.device(), e.key());
  }

  /** Drops one use of {@code device} by a table of {@code forDevice}. */
  synchronized void release(BlockDevice device, String forDevice) {
    String key = keys.get(device);
    Entry e = key == null ? null : byKey.get(key);
    if (e == null) {
      return;
    }
    if (device instanceof MappedDevice m) {
      m.unhold();
    }
    if (e.refs() > 1) {
      List<String> users = new ArrayList<>(e.users());
      users.remove(forDevice);
      byKey.put(key, new Entry(key, device, e.refs() - 1, List.copyOf(users)));
      return;
    }
    byKey.remove(key);
    keys.remove(device);
    closeDevice(device);
  }

  private static void closeDevice(BlockDevice device) {
    if (device instanceof FileDevice f) {
      f.close();
    } else {
      RemoteDevices.close(device);
    }
  }

  /**
   * The remote backing devices the tables of {@code device} use, each with its state, as
   * {@code PATH STATE} lines in path order.
   */
  synchronized List<String> remoteStates(String device) {
    List<String> lines = new ArrayList<>();
    for (Entry e : byKey.values()) {
      String state = RemoteDevices.state(e.device());
      if (state != null && e.users().contains(device)) {
        lines.add(e.key() + " " + state);
      }
    }
    Collections.sort(lines);
    return lines;
  }

  /** How many distinct backing devices are open (tests check that nothing leaks). */
  synchronized int openCount() {
    return byKey.size();
  }

  @Override
  public synchronized void close() {
    for (Entry e : byKey.values()) {
      closeDevice(e.device());
    }
    byKey.clear();
    keys.clear();
  }
}
