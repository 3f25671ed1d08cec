package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A jdm device: a live table that serves I/O, an inactive slot that {@code load} fills, and the
 * suspend / resume dance that swaps them, as the kernel's {@code struct mapped_device}.
 *
 * <p>This class is the control side: tables, suspend, resume, remove, messages, events. I/O goes
 * through its {@link DataPath}.
 */
public final class MappedDevice implements BlockDevice {
  private static final Logger LOG = LoggerFactory.getLogger(MappedDevice.class);

  private final String name;
  private final int minor;
  private final boolean readOnly;
  private final DeviceMapper mapper;
  private final long suspendTimeoutNanos;

  private final DataPath path;
  private volatile Table inactive;
  /** Opens by other devices' tables ({@code dm_get_device} of this one). Under {@link #control}. */
  private int holders;
  /** Opens by frontends: FUSE opens (a loop device is one), NBD connections. Under control. */
  private int opens;
  /** {@code remove --deferred} or {@code --force} while open: removed at the last close. */
  private volatile boolean deferredRemove;
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

  /** The device's minor number, shown as {@code 253:minor}. */
  int minor() {
    return minor;
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

  /**
   * Judges a request without running it, exactly as {@link #submit} would: {@link IoStatus#OK}
   * when it may run, else the status it would fail with. For frontends answering what they do not
   * submit (NBD's CACHE and BLOCK_STATUS); everything submitted is judged by submit itself.
   *
   * @param length bytes
   */
  public IoStatus check(IoOp op, long sector, long length) {
    IoStatus bad = path.check(path.live, op, sector, length);
    return bad == null ? IoStatus.OK : bad;
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
    if (t == null || t.failing || count <= 0) {
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
    Table replaced;
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
      replaced = inactive;
      inactive = t;
    }
    close(replaced);
  }

  /** Drops the inactive table. */
  void clear() {
    Table dropped;
    synchronized (control) {
      dropped = inactive;
      inactive = null;
    }
    close(dropped);
  }

  /**
   * Closes tables that left the device, after its lock is released: closing releases the devices a
   * table uses, which takes their locks, and the lock order is always user before used.
   */
  private static void close(Table... tables) {
    for (Table t : tables) {
      if (t != null) {
        t.close();
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

  /** Suspends; past the timeout, goes on with whatever is still in flight. */
  private void suspendForcedLocked() {
    try {
      suspendLocked();
    } catch (DmException e) {
      LOG.warn("{}; going on regardless", e.getMessage());
      path.hold();
    }
  }

  /** Swaps in the inactive table if there is one (suspending first), then lets held I/O go. */
  void resume() throws DmException {
    boolean changed = false;
    Table old = null;
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
        old = path.live;
        path.live = next;
        inactive = null;
        raiseEvent();
        changed = true;
      }
      Table now = path.live;
      if (now != null) {
        for (Segment s : now.segments) {
          s.target.resume();
        }
      }
      path.release();
    }
    close(old);
    if (changed) {
      mapper.announceChange(this);
    }
  }

  /**
   * {@code dmsetup remove}: ends the device when nobody has it open. While it is open, plain
   * removal is refused ("Device or resource busy"); {@code deferred} marks it to be removed at its
   * last close; {@code force} also swaps its tables for a state that fails all I/O at once (the
   * kernel's {@code dmsetup remove --force} loads an error table), then removes it at its last close.
   *
   * @return true when the device is gone now, false when its removal waits for the last close
   */
  boolean remove(boolean force, boolean deferred) throws DmException {
    Table[] gone;
    boolean now;
    synchronized (control) {
      if (path.removed()) {
        throw new DmException(name + ": No such device");
      }
      int users = holders + opens;
      now = users == 0;
      if (!now && !force && !deferred) {
        throw new DmException(name + ": Device or resource busy: open count " + users
            + openers());
      }
      if (now) {
        if (!force) {
          suspendLocked();
        }
        gone = endLocked();
      } else {
        deferredRemove = true;
        gone = force ? failAllLocked() : new Table[0];
      }
    }
    close(gone);
    raiseEvent();
    return now;
  }

  /** Who has the device open, for the busy message. */
  private String openers() {
    return holders == 0 ? "" : opens == 0 ? " (used by another device's table)"
        : " (" + holders + " by other devices' tables)";
  }

  /** Ends the device whoever has it open: the daemon stopping. */
  void destroy() {
    Table[] gone;
    synchronized (control) {
      if (path.removed()) {
        return;
      }
      gone = endLocked();
    }
    close(gone);
    raiseEvent();
  }

  /**
   * The deferred removal, once the last user closed the device: ends it unless someone opened it
   * again meanwhile.
   *
   * @return whether the device is gone now
   */
  boolean removeIfUnused() {
    Table[] gone;
    synchronized (control) {
      if (path.removed() || !deferredRemove || holders + opens > 0) {
        return false;
      }
      gone = endLocked();
    }
    close(gone);
    raiseEvent();
    return true;
  }

  /**
   * Drains the device (past the suspend timeout, goes on anyway), fails held and later I/O, and
   * takes its tables away for the caller to close. A plain remove suspends first, so that a timeout
   * leaves the device running.
   */
  private Table[] endLocked() {
    suspendForcedLocked();
    path.shutdown();
    Table[] gone = {inactive, path.live};
    inactive = null;
    path.live = null;
    return gone;
  }

  /**
   * Swaps the tables for a state that fails every request with EIO, keeping the device's size, so
   * that its users see errors at once instead of reaching what the table pointed at. Requests in
   * flight finish first (up to the suspend timeout).
   */
  private Table[] failAllLocked() {
    Table[] gone = {inactive, path.live};
    if (path.live != null && path.live.failing) {
      return new Table[] {inactive};
    }
    suspendForcedLocked();
    long size = path.live == null ? 0 : path.live.size;
    path.live = Table.failing(size);
    inactive = null;
    path.release();
    return gone;
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
          holders + opens, events.get(), minor, t == null ? 0 : t.segments.length,
          t == null ? 0 : t.size, deferredRemove);
    }
  }

  /**
   * A user opens the device, as the kernel's {@code dm_blk_open}: a FUSE open of its file (a loop
   * device attached to the file is one), an NBD client entering transmission. Counted in
   * {@code info}'s open count; while it is open, {@code remove} is refused. Pair with
   * {@link #release()}.
   *
   * @throws DmException when the device has been removed
   */
  public void open() throws DmException {
    synchronized (control) {
      if (path.removed()) {
        throw new DmException(name + ": No such device");
      }
      opens++;
    }
  }

  /**
   * A user closes the device ({@code dm_blk_close}). The last close of a device marked for deferred
   * removal removes it, on another thread.
   */
  public void release() {
    synchronized (control) {
      opens = Math.max(0, opens - 1);
      lastClosed();
    }
  }

  /** Another device's table starts using this one ({@code dm_get_device}). */
  void hold() throws DmException {
    synchronized (control) {
      if (path.removed()) {
        throw new DmException(name + ": No such device");
      }
      holders++;
    }
  }

  /** Another device's table stops using this one ({@code dm_put_device}). */
  void unhold() {
    synchronized (control) {
      holders = Math.max(0, holders - 1);
      lastClosed();
    }
  }

  private void lastClosed() {
    if (holders + opens == 0 && deferredRemove && !path.removed()) {
      mapper.removeDeferred(this);
    }
  }

  /** Whether another device's table uses this one (the daemon removes users first on stop). */
  boolean held() {
    synchronized (control) {
      return holders > 0;
    }
  }

  /**
   * Whether the device can no longer serve I/O: removed, or forced to fail everything while it
   * waits for its last user to close it.
   */
  public boolean gone() {
    Table t = path.live;
    return path.removed() || (t != null && t.failing);
  }

  /** Whether the live table names {@code backing} among its devices. */
  boolean usesDirectly(BlockDevice backing) {
    Table t = path.live;
    return t != null && t.uses(backing);
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
