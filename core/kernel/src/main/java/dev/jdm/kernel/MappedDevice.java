package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A jdm device: a live table that serves I/O, an inactive slot that {@code load} fills, and the
 * suspend / resume dance that swaps them, as the kernel's {@code struct mapped_device}.
 *
 * <p>This class is the control side: tables, suspend, resume, remove, messages, events. I/O goes
 * through its {@link DataPath}.
 */
public final class MappedDevice implements BlockDevice {

  private final String name;
  private final int minor;
  private final boolean readOnly;
  private final DeviceMapper mapper;
  private final long suspendTimeoutNanos;

  private final DataPath path;
  private volatile Table inactive;
  private final AtomicInteger openCount = new AtomicInteger();
  private final AtomicLong events = new AtomicLong();
  /** Serialises the control verbs of this device; never taken on the data path. */
  private final Object control = new Object();

  MappedDevice(String name, int minor, boolean readOnly, DeviceMapper mapper,
      long suspendTimeoutNanos) {
    this.name = name;
    this.minor = minor;
    this.readOnly = readOnly;
    this.mapper = mapper;
    this.suspendTimeoutNanos = suspendTimeoutNanos;
    this.path = new DataPath(this, mapper.clones, mapper.ios, readOnly);
  }

  /** The device's name, as in {@code /dev/mapper/NAME}. */
  public String name() {
    return name;
  }

  @Override
  public String path() {
    return BackingDevices.MAPPER_PREFIX + name;
  }

  @Override
  public long sizeInSectors() {
    Table t = path.live;
    return t == null ? 0 : t.size;
  }

  /** Size in bytes. */
  public long sizeInBytes() {
    return sizeInSectors() << IoRequest.SECTOR_SHIFT;
  }

  @Override
  public boolean readOnly() {
    return readOnly;
  }

  /** FLUSH, READ, WRITE and WRITE_ZEROES always work (zeroes are written where a target can't); DISCARD when every target does it. */
  @Override
  public boolean supports(IoOp op) {
    if (op == IoOp.DISCARD) {
      Table t = path.live;
      return t != null && t.discard;
    }
    return true;
  }

  @Override
  public IoLimits limits() {
    Table t = path.live;
    return t == null ? IoLimits.DEFAULT : t.limits;
  }

  /** Whether the device is suspended. */
  public boolean suspended() {
    return path.suspended();
  }

  /** Whether the device has been removed. */
  public boolean removed() {
    return path.removed();
  }

  // ---------------------------------------------------------------- data path

  @Override
  public void submit(IoRequest r) {
    path.submit(r);
  }

  /** Attaches a tracer that hears every completed request, or detaches it with null. */
  public void trace(IoTracer t) {
    path.trace(t);
  }

  /** The tracer attached now, or null. */
  public IoTracer tracer() {
    return path.tracer();
  }

  /** The device's counters since it was created. */
  public DeviceStats.Snapshot stats() {
    return path.stats();
  }

  @Override
  public void blockStatus(long sector, long count, ExtentSink sink) {
    Table t = path.live;
    if (t == null || count <= 0) {
      return;
    }
    long end = Math.min(t.size, sector + count);
    boolean[] more = {true};
    ExtentSink counting = (sectors, flags) -> more[0] = sink.extent(sectors, flags);
    while (sector < end && more[0]) {
      Segment s = t.at(sector);
      long n = Math.min(end, s.end()) - sector;
      s.target.blockStatus(sector - s.start, n, counting);
      sector += n;
    }
  }

  // ------------------------------------------------------------- control path

  /**
   * Makes {@code t} the first live table, as a create does ({@code dmsetup create} is a load and a
   * resume): each target's preresume, then the table goes live, then each target's resume.
   */
  void activate(Table t) throws DmException {
    synchronized (control) {
      for (Segment s : t.segments) {
        try {
          s.target.preresume();
        } catch (TargetException e) {
          throw new DmException(name + ": " + s.typeName + ": " + e.getMessage(), e);
        }
      }
      path.live = t;
      for (Segment s : t.segments) {
        s.target.resume();
      }
    }
  }

  /** Loads a table into the inactive slot; it goes live on the next resume. */
  void load(Table t) throws DmException {
    synchronized (control) {
      if (path.removed()) {
        t.close();
        throw new DmException(name + ": No such device");
      }
      Table cur = path.live;
      if (cur != null) {
        for (Segment s : cur.segments) {
          if (s.registration.type().features().contains(TargetType.Feature.IMMUTABLE)
              && (t.segments.length != 1 || t.segments[0].registration != s.registration)) {
            t.close();
            throw new DmException(name + ": " + s.typeName
                + ": can't replace immutable target type");
          }
        }
      }
      if (inactive != null) {
        inactive.close();
      }
      inactive = t;
    }
  }

  /** Drops the inactive table. */
  void clear() {
    synchronized (control) {
      if (inactive != null) {
        inactive.close();
        inactive = null;
      }
    }
  }

  /** Holds new I/O back and waits for in-flight I/O to finish; gives up after the timeout. */
  void suspend() throws DmException {
    synchronized (control) {
      suspendLocked();
    }
  }

  private void suspendLocked() throws DmException {
    if (path.suspended() || path.removed()) {
      return;
    }
    Table t = path.live;
    if (t != null) {
      for (Segment s : t.segments) {
        s.target.presuspend();
      }
    }
    path.hold();
    int left = path.drain(suspendTimeoutNanos);
    if (left > 0) {
      if (t != null) {
        for (Segment s : t.segments) {
          s.target.resume();
        }
      }
      path.release();
      throw new DmException(name + ": suspend timed out after "
          + TimeUnit.NANOSECONDS.toMillis(suspendTimeoutNanos) + " ms with " + left
          + " request(s) in flight; the device keeps running");
    }
    if (t != null) {
      for (Segment s : t.segments) {
        s.target.postsuspend();
      }
    }
  }

  /** Swaps in the inactive table if there is one (suspending first), then lets held I/O go. */
  void resume() throws DmException {
    boolean changed = false;
    synchronized (control) {
      if (path.removed()) {
        throw new DmException(name + ": No such device");
      }
      Table next = inactive;
      if (next == null && !path.suspended()) {
        return;
      }
      if (next != null && !path.suspended()) {
        suspendLocked();
      }
      Table going = next != null ? next : path.live;
      if (going != null) {
        for (Segment s : going.segments) {
          try {
            s.target.preresume();
          } catch (TargetException e) {
            throw new DmException(name + ": " + s.typeName + ": " + e.getMessage()
                + "; the device stays suspended", e);
          }
        }
      }
      if (next != null) {
        Table old = path.live;
        path.live = next;
        inactive = null;
        raiseEvent();
        changed = true;
        if (old != null) {
          old.close();
        }
      }
      Table now = path.live;
      if (now != null) {
        for (Segment s : now.segments) {
          s.target.resume();
        }
      }
      path.release();
    }
    if (changed) {
      mapper.announceChange(this);
    }
  }

  /** Ends the device: drains it (unless forced past a timeout), fails held I/O, closes tables. */
  void remove(boolean force) throws DmException {
    synchronized (control) {
      if (path.removed()) {
        throw new DmException(name + ": No such device");
      }
      int users = openCount.get();
      if (users > 0 && !force) {
        throw new DmException(name + ": Device or resource busy: used by " + users
            + " other device table(s)");
      }
      try {
        suspendLocked();
      } catch (DmException e) {
        if (!force) {
          throw e;
        }
      }
      path.shutdown();
      if (inactive != null) {
        inactive.close();
        inactive = null;
      }
      Table t = path.live;
      if (t != null) {
        t.close();
        path.live = null;
      }
    }
    raiseEvent();
  }

  /** Bumps the event number and wakes whoever waits for it ({@code dm_table_event}). */
  void raiseEvent() {
    synchronized (events) {
      events.incrementAndGet();
      events.notifyAll();
    }
  }

  /**
   * Waits until the event number is above {@code seen} or the device is removed, at most
   * {@code timeoutMillis} (0: no limit), as {@code dmsetup wait}.
   *
   * @return the event number then
   */
  public long awaitEvent(long seen, long timeoutMillis) throws InterruptedException {
    long now = System.currentTimeMillis();
    long deadline = timeoutMillis == 0 || timeoutMillis > Long.MAX_VALUE - now ? Long.MAX_VALUE
        : now + timeoutMillis;
    synchronized (events) {
      while (events.get() <= seen && !path.removed()) {
        long left = deadline - System.currentTimeMillis();
        if (left <= 0) {
          break;
        }
        events.wait(Math.min(left, 1000));
      }
      return events.get();
    }
  }

  /** Sends a message to the target whose segment holds {@code sector}. */
  String message(long sector, List<String> words) throws DmException {
    synchronized (control) {
      Table t = path.live;
      if (t == null) {
        throw new DmException(name + ": no live table to send the message to");
      }
      if (sector < 0 || sector >= t.size) {
        throw new DmException(name + ": Target message sector outside device");
      }
      Segment s = t.at(sector);
      try {
        return s.target.message(words);
      } catch (TargetException e) {
        throw new DmException(name + ": " + s.typeName + ": " + e.getMessage(), e);
      }
    }
  }

  /** The live table as {@code dmsetup table} prints it ("" when there is none). */
  public String table() {
    Table t = path.live;
    return t == null ? "" : t.text(StatusType.TABLE);
  }

  /** The inactive table, as {@code dmsetup table --inactive} prints it. */
  public String inactiveTable() {
    synchronized (control) {
      return inactive == null ? "" : inactive.text(StatusType.TABLE);
    }
  }

  /** The live table's status lines, as {@code dmsetup status} prints them. */
  public String status() {
    Table t = path.live;
    return t == null ? "" : t.text(StatusType.INFO);
  }

  /** What {@code dmsetup info} shows. */
  public DeviceInfo info() {
    synchronized (control) {
      Table t = path.live;
      return new DeviceInfo(name, path.suspended(), readOnly, t != null, inactive != null,
          openCount.get(), events.get(), minor, t == null ? 0 : t.segments.length,
          t == null ? 0 : t.size);
    }
  }

  /** Counts opens by other devices' tables. */
  void opened(int delta) {
    openCount.addAndGet(delta);
  }

  /** Whether this device's tables use {@code device}, directly or further down. */
  boolean uses(String device) {
    // No lock: called while another device's table is built, possibly under its lock.
    for (Table t : new Table[] {path.live, inactive}) {
      if (t == null) {
        continue;
      }
      for (BlockDevice d : t.devices) {
        if (d instanceof MappedDevice m && (m.name.equals(device) || m.uses(device))) {
          return true;
        }
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return path();
  }
}
