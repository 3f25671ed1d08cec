package dev.jdm.kernel;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The set of jdm devices and the dmsetup verbs on them: the kernel's device-mapper ioctl interface.
 * Every method is safe to call from many threads; each device's verbs run one at a time.
 */
public final class DeviceMapper implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DeviceMapper.class);
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.+:@-]{1,127}");
  private static final String SUSPEND_TIMEOUT = "jdm.kernel.suspend-timeout";
  private static final String POOL_SIZE = "jdm.kernel.request-pool-size";
  private static final int MAX_POOL = 1 << 20;

  private final TargetRegistry registry;
  private final BackingDevices backing;
  private final ConcurrentSkipListMap<String, MappedDevice> devices =
      new ConcurrentSkipListMap<>();
  private final List<DeviceListener> listeners = new CopyOnWriteArrayList<>();
  private final AtomicInteger minors = new AtomicInteger();
  private final long suspendTimeoutNanos;
  private final int poolSize;
  final FreeList<Clone> clones;
  final FreeList<DmIo> ios;
  private final KernelServices services;

  /**
   * A device mapper using {@code registry}, configured from {@code config}'s {@code jdm.kernel}
   * section.
   */
  public DeviceMapper(TargetRegistry registry, Config config) {
    List<ConfigException.ValidationProblem> problems = check(config);
    if (!problems.isEmpty()) {
      throw new ConfigException.ValidationFailed(problems);
    }
    this.registry = registry;
    Config k = config.getConfig("jdm.kernel");
    this.backing = new BackingDevices(this, new RemoteDevices(k));
    this.suspendTimeoutNanos = config.getDuration(SUSPEND_TIMEOUT).toNanos();
    this.poolSize = config.getInt(POOL_SIZE);
    this.clones = new FreeList<>(poolSize, this::newClone);
    this.ios = new FreeList<>(poolSize, DmIo::new);
    this.services = new KernelServices(k, poolSize);
  }

  /**
   * Every problem of the {@code jdm.kernel} section of {@code config}, each with the full key and
   * the origin of its value: wrong types, and values out of range.
   */
  public static List<ConfigException.ValidationProblem> check(Config config) {
    List<ConfigException.ValidationProblem> problems = new ArrayList<>();
    try {
      config.checkValid(ConfigFactory.defaultReference(), "jdm.kernel");
    } catch (ConfigException.ValidationFailed e) {
      e.problems().forEach(problems::add);
      return problems;
    }
    try {
      Duration timeout = config.getDuration(SUSPEND_TIMEOUT);
      if (timeout.isNegative() || timeout.isZero()) {
        problems.add(new ConfigException.ValidationProblem(SUSPEND_TIMEOUT,
            config.getValue(SUSPEND_TIMEOUT).origin(), "must be a positive duration, not "
                + timeout));
      }
    } catch (ConfigException e) {
      problems.add(problem(SUSPEND_TIMEOUT, e));
    }
    try {
      int pool = config.getInt(POOL_SIZE);
      if (pool < 1 || pool > MAX_POOL) {
        problems.add(new ConfigException.ValidationProblem(POOL_SIZE,
            config.getValue(POOL_SIZE).origin(), "must be from 1 to " + MAX_POOL + ", not "
                + pool));
      }
    } catch (ConfigException e) {
      problems.add(problem(POOL_SIZE, e));
    }
    return problems;
  }

  /** A value typesafe-config could not read, as a problem of {@code path} without the origin. */
  private static ConfigException.ValidationProblem problem(String path, ConfigException e) {
    String m = e.getMessage();
    String where = e.origin() == null ? "" : e.origin().description() + ": ";
    return new ConfigException.ValidationProblem(path, e.origin(),
        m.startsWith(where) ? m.substring(where.length()) : m);
  }

  private Clone newClone() {
    return new Clone(clones);
  }

  /** How many requests each data-path pool keeps. */
  int poolSize() {
    return poolSize;
  }

  /** The context a target of {@code device}'s table, starting at {@code begin}, is built with. */
  SegmentContext context(String device, long begin, boolean readOnly) {
    return new SegmentContext(device, begin, readOnly, backing, this, services);
  }

  /** A device mapper with the defaults of {@code reference.conf}. */
  public DeviceMapper(TargetRegistry registry) {
    this(registry, ConfigFactory.defaultReference());
  }

  /** The target types this mapper builds tables from. */
  public TargetRegistry registry() {
    return registry;
  }

  /** How long a suspend waits for in-flight I/O. */
  public Duration suspendTimeout() {
    return Duration.ofNanos(suspendTimeoutNanos);
  }

  /** Registers a listener for devices created, changed and removed. */
  public void addListener(DeviceListener l) {
    listeners.add(l);
  }

  /** Unregisters a listener. */
  public void removeListener(DeviceListener l) {
    listeners.remove(l);
  }

  /**
   * Creates a device, live at once with {@code table}, or without a table when it is null (then
   * {@code load} and {@code resume} give it one), as {@code dmsetup create}.
   */
  public MappedDevice create(String name, String table, boolean readOnly) throws DmException {
    if (name.equals(".") || name.equals("..")) {
      throw new DmException("'" + name + "': invalid device name: . and .. name directories"
          + " (the FUSE mount shows a device as a file of its name)");
    }
    if (!NAME.matcher(name).matches()) {
      throw new DmException("'" + name + "': invalid device name: 1 to 127 of A-Z a-z 0-9 _ . +"
          + " : @ -");
    }
    if (devices.containsKey(name)) {
      throw new DmException(name + ": Device or resource busy: a device with this name exists");
    }
    Table t = table == null ? null : Table.build(name, table, readOnly, this);
    MappedDevice d = new MappedDevice(name, minors.getAndIncrement(), readOnly, this,
        suspendTimeoutNanos);
    if (devices.putIfAbsent(name, d) != null) {
      if (t != null) {
        t.close();
      }
      throw new DmException(name + ": Device or resource busy: a device with this name exists");
    }
    if (t != null) {
      try {
        d.activate(t);
      } catch (DmException e) {
        devices.remove(name, d);
        t.close();
        throw e;
      }
    }
    LOG.info("{}: created, {} sectors{}", name, d.sizeInSectors(), readOnly ? ", read-only" : "");
    for (DeviceListener l : listeners) {
      l.created(d);
    }
    return d;
  }

  /** The device called {@code name}, if any. */
  public Optional<MappedDevice> find(String name) {
    return Optional.ofNullable(devices.get(name));
  }

  /** The device called {@code name}. */
  public MappedDevice get(String name) throws DmException {
    MappedDevice d = devices.get(name);
    if (d == null) {
      throw new DmException(name + ": No such device");
    }
    return d;
  }

  /** Every device, by name. */
  public List<MappedDevice> list() {
    return List.copyOf(devices.values());
  }

  /** Builds {@code table} into the device's inactive slot ({@code dmsetup load / reload}). */
  public void load(String name, String table) throws DmException {
    MappedDevice d = get(name);
    d.load(Table.build(name, table, d.readOnly(), this));
  }

  /** Drops the inactive table ({@code dmsetup clear}). */
  public void clear(String name) throws DmException {
    get(name).clear();
  }

  /** Suspends the device ({@code dmsetup suspend}). */
  public void suspend(String name) throws DmException {
    get(name).suspend();
  }

  /** Resumes the device, making a loaded table live ({@code dmsetup resume}). */
  public void resume(String name) throws DmException {
    get(name).resume();
  }

  /** Sends a message to a target ({@code dmsetup message}). */
  public String message(String name, long sector, List<String> words) throws DmException {
    return get(name).message(sector, words);
  }

  /**
   * Removes the device ({@code dmsetup remove}): refused while it is open (by another device's
   * table, a FUSE open of its file, an NBD client), unless forced.
   */
  public void remove(String name, boolean force) throws DmException {
    remove(name, force, false);
  }

  /**
   * Removes the device, or marks it to be removed when its last user closes it: {@code dmsetup
   * remove [--force] [--deferred]}. While it is open, a plain remove is refused with "Device or
   * resource busy"; {@code deferred} leaves it working until the last close; {@code force} makes all
   * its I/O fail at once and removes it at the last close.
   *
   * @return true when it is gone now, false when it goes at its last close
   */
  public boolean remove(String name, boolean force, boolean deferred) throws DmException {
    MappedDevice d = get(name);
    if (!d.remove(force, deferred)) {
      LOG.info("{}: open; {}removed when its last user closes it", name,
          force ? "failing all I/O now, " : "");
      return false;
    }
    removed(d);
    return true;
  }

  /** The last user of a device marked for deferred removal closed it: remove it, off its thread. */
  void removeDeferred(MappedDevice d) {
    Thread.ofVirtual().name("jdm-remove-" + d.name()).start(() -> {
      if (d.removeIfUnused()) {
        removed(d);
      }
    });
  }

  private void removed(MappedDevice d) {
    devices.remove(d.name(), d);
    LOG.info("{}: removed", d.name());
    for (DeviceListener l : listeners) {
      l.removed(d);
    }
  }

  /** Bumps the event number of {@code name}, if it exists now (a target's raiseEvent). */
  void raiseEvent(String name) {
    MappedDevice d = devices.get(name);
    if (d != null) {
      d.raiseEvent();
    }
  }

  /** Raises an event on every device whose live table uses {@code backing}. */
  void raiseEventsOfUsers(dev.jdm.spi.BlockDevice backing) {
    for (MappedDevice d : devices.values()) {
      if (d.usesDirectly(backing)) {
        d.raiseEvent();
      }
    }
  }

  void announceChange(MappedDevice d) {
    for (DeviceListener l : listeners) {
      l.changed(d);
    }
  }

  /**
   * The remote backing devices (NBD exports) the tables of device {@code name} use, one line each:
   * the path as written in the table, a space, and its state ({@code connected, ...},
   * {@code degraded, ...}, {@code reconnecting, ...} or {@code failed, ...}).
   */
  public List<String> remoteStatus(String name) {
    return backing.remoteStates(name);
  }

  /** How many distinct backing files and devices are open now. */
  public int openBackingDevices() {
    return backing.openCount();
  }

  /**
   * Removes every device whoever has it open, users before the devices they stack on, then closes
   * the rest.
   */
  @Override
  public void close() {
    while (!devices.isEmpty()) {
      List<MappedDevice> order = new ArrayList<>(devices.values());
      MappedDevice d = order.stream().filter(m -> !m.held()).findFirst().orElse(order.getFirst());
      d.destroy();
      removed(d);
    }
    backing.close();
    services.close();
  }
}
