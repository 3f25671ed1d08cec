package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A jdm device: a live table that serves I/O, an inactive slot that {@code load} fills, and the
 * suspend / resume dance that swaps them, as the kernel's {@code struct mapped_device}.
 *
 * <p>Data path: {@link #submit} checks the request once, then cuts it at segment ends and at each
 * target's split boundary into pooled clones, each mapped by its target and sent on. The last clone
 * to finish completes the original. No lock is taken and nothing is allocated for an unsplit
 * request; requests of one caller complete in whatever order their devices finish them.
 */
public final class MappedDevice implements BlockDevice {
  private static final Logger LOG = LoggerFactory.getLogger(MappedDevice.class);
  private static final int ZERO_CHUNK = 1 << 20;
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();

  private final String name;
  private final int minor;
  private final boolean readOnly;
  private final DeviceMapper mapper;
  private final long suspendTimeoutNanos;

  private volatile Table live;
  private volatile Table inactive;
  private volatile boolean suspended;
  private volatile boolean removed;
  private final AtomicInteger inflight = new AtomicInteger();
  private final ConcurrentLinkedQueue<IoRequest> deferred = new ConcurrentLinkedQueue<>();
  private final AtomicInteger openCount = new AtomicInteger();
  private final AtomicLong events = new AtomicLong();
  /** Serialises the control verbs of this device; never taken on the data path. */
  private final Object control = new Object();
  private final Object drained = new Object();
  private final DeviceStats stats = new DeviceStats();
  private volatile IoTracer tracer;

  MappedDevice(String name, int minor, boolean readOnly, DeviceMapper mapper,
      long suspendTimeoutNanos) {
    this.name = name;
    this.minor = minor;
    this.readOnly = readOnly;
    this.mapper = mapper;
    this.suspendTimeoutNanos = suspendTimeoutNanos;
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
    Table t = live;
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
      Table t = live;
      return t != null && t.discard;
    }
    return true;
  }

  @Override
  public IoLimits limits() {
    Table t = live;
    return t == null ? IoLimits.DEFAULT : t.limits;
  }

  /** Whether the device is suspended. */
  public boolean suspended() {
    return suspended;
  }

  /** Whether the device has been removed. */
  public boolean removed() {
    return removed;
  }

  // ---------------------------------------------------------------- data path

  @Override
  public void submit(IoRequest r) {
    inflight.incrementAndGet();
    if (suspended || removed) {
      leave();
      holdBack(r);
      return;
    }
    long start = System.nanoTime();
    Table t = live;
    IoStatus bad = check(t, r);
    if (bad != null) {
      account(r, start, bad);
      r.complete(bad);
      leave();
      return;
    }
    DmIo io = mapper.ios.take().start(this, t, r, start);
    try {
      if (r.op() == IoOp.FLUSH) {
        flushAll(io);
      } else if (r.op() == IoOp.WRITE && r.hasFlag(IoRequest.PREFLUSH)) {
        io.dataAfterFlush = true;
        flushAll(io);
      } else {
        issue(io);
      }
    } catch (RuntimeException e) {
      // A bug below must fail this request, not leave it and the device's drain hanging.
      LOG.error("{}: {} failed", name, r, e);
      io.fail(IoStatus.EIO);
    }
    io.release();
  }

  private IoStatus check(Table t, IoRequest r) {
    IoOp op = r.op();
    if (t == null) {
      return IoStatus.EIO;
    }
    if (readOnly && op.changesData()) {
      return IoStatus.EPERM;
    }
    if (op == IoOp.FLUSH) {
      return null;
    }
    int bytes = r.bytes();
    if (bytes <= 0 || (bytes & (IoRequest.SECTOR_SIZE - 1)) != 0) {
      return IoStatus.EINVAL;
    }
    if (op.hasData() && (r.data() == null || r.dataOffset() < 0
        || r.dataOffset() > r.data().capacity() - bytes)) {
      return IoStatus.EINVAL;
    }
    if (r.sector() < 0 || r.sector() > t.size - r.sectors()) {
      return op.changesData() ? IoStatus.ENOSPC : IoStatus.EINVAL;
    }
    if (op == IoOp.DISCARD && !t.discard) {
      return IoStatus.EOPNOTSUPP;
    }
    return null;
  }

  private void flushAll(DmIo io) {
    for (BlockDevice d : io.table.devices) {
      IoRequest c = mapper.clones.take().prepare(IoOp.FLUSH, 0, 0, 0, null, 0, io);
      c.remap(d, 0);
      io.pending.incrementAndGet();
      d.submit(c);
    }
  }

  /** Cuts the original into clones at segment ends and split boundaries, and maps each. */
  private void issue(DmIo io) {
    IoRequest r = io.original;
    Table t = io.table;
    long sector = r.sector();
    long end = sector + r.sectors();
    int off = r.dataOffset();
    while (sector < end) {
      Segment s = t.at(sector);
      long rel = sector - s.start;
      long n = Math.min(end, s.end()) - sector;
      if (s.maxIo > 0) {
        n = Math.min(n, s.maxIo - rel % s.maxIo);
      }
      IoOp op = r.op();
      ByteBuffer data = r.data();
      int dataOff = off;
      if (op == IoOp.WRITE_ZEROES && !s.writeZeroes) {
        if (r.hasFlag(IoRequest.FAST_ZERO)) {
          io.fail(IoStatus.EOPNOTSUPP);
          return;
        }
        // The caller asked for zeroes: write them.
        n = Math.min(n, ZERO_CHUNK >>> IoRequest.SECTOR_SHIFT);
        op = IoOp.WRITE;
        data = ZEROS.duplicate();
        dataOff = 0;
      } else if (data != null && n != r.sectors()) {
        int len = (int) (n << IoRequest.SECTOR_SHIFT);
        // slice() checks against the limit, which the last user of the buffer may have left short.
        if (data.limit() < off + len) {
          data.limit(data.capacity());
        }
        data = data.slice(off, len);
        dataOff = 0;
      }
      int bytes = (int) (n << IoRequest.SECTOR_SHIFT);
      IoRequest c = mapper.clones.take()
          .prepare(op, r.flags() & ~IoRequest.PREFLUSH, rel, bytes, data, dataOff, io);
      io.pending.incrementAndGet();
      map(s, c, io);
      sector += n;
      if (r.data() != null) {
        off += bytes;
      }
    }
  }

  private void map(Segment s, IoRequest c, DmIo io) {
    MapResult res;
    try {
      res = s.target.map(c);
    } catch (RuntimeException e) {
      LOG.error("{}: {}: map failed for {}", name, s.typeName, c, e);
      res = MapResult.KILL;
    }
    switch (res) {
      case REMAPPED -> {
        BlockDevice d = c.device();
        if (d == null || c.sector() < 0 || c.sector() > d.sizeInSectors() - c.sectors()) {
          LOG.error("{}: {}: remapped outside its device: {}", name, s.typeName, c);
          c.complete(IoStatus.EIO);
        } else {
          d.submit(c);
        }
      }
      case SUBMITTED -> { }
      case KILL -> c.complete(IoStatus.EIO);
      case REQUEUE -> {
        io.requeue = true;
        recycle(c);
        io.release();
      }
      case null -> c.complete(IoStatus.EIO);
    }
  }

  void recycle(IoRequest clone) {
    clone.prepare(IoOp.READ, 0, 0, 0, null, 0, null);
    mapper.clones.give(clone);
  }

  /** Called by the last piece of {@code io}. */
  void finish(DmIo io) {
    if (io.dataAfterFlush && io.error.get() == null) {
      io.dataAfterFlush = false;
      io.pending.set(1);
      issue(io);
      io.release();
      return;
    }
    IoRequest r = io.original;
    IoStatus st = io.error.get();
    boolean requeue = io.requeue;
    long start = io.startNanos;
    io.original = null;
    io.table = null;
    mapper.ios.give(io);
    if (requeue) {
      deferred.add(r);
    } else {
      st = st == null ? IoStatus.OK : st;
      account(r, start, st);
      r.complete(st);
    }
    leave();
  }

  /** Counts a finished request and hands it to the tracer, before its completion runs. */
  private void account(IoRequest r, long start, IoStatus st) {
    long latency = System.nanoTime() - start;
    stats.record(r.op(), r.bytes(), latency, st);
    IoTracer t = tracer;
    if (t != null) {
      t.completed(start, r.op(), r.sector(), r.bytes(), latency, st);
    }
  }

  /** Attaches a tracer that hears every completed request, or detaches it with null. */
  public void trace(IoTracer t) {
    tracer = t;
  }

  /** The tracer attached now, or null. */
  public IoTracer tracer() {
    return tracer;
  }

  /** The device's counters since it was created. */
  public DeviceStats.Snapshot stats() {
    return stats.snapshot(Math.max(0, inflight.get()));
  }

  private void leave() {
    if (inflight.decrementAndGet() == 0 && suspended) {
      synchronized (drained) {
        drained.notifyAll();
      }
    }
  }

  /** Keeps a request for after the next resume, or fails it when the device is gone. */
  private void holdBack(IoRequest r) {
    if (removed) {
      r.complete(IoStatus.ESHUTDOWN);
      return;
    }
    deferred.add(r);
    if (!suspended) {
      replay();
    }
  }

  private void replay() {
    for (int n = deferred.size(); n > 0; n--) {
      IoRequest r = deferred.poll();
      if (r == null) {
        return;
      }
      submit(r);
    }
  }

  @Override
  public void blockStatus(long sector, long count, ExtentSink sink) {
    Table t = live;
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

  void setLive(Table t) {
    synchronized (control) {
      live = t;
    }
  }

  /** Loads a table into the inactive slot; it goes live on the next resume. */
  void load(Table t) throws DmException {
    synchronized (control) {
      if (removed) {
        t.close();
        throw new DmException(name + ": No such device");
      }
      Table cur = live;
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
    if (suspended || removed) {
      return;
    }
    Table t = live;
    if (t != null) {
      for (Segment s : t.segments) {
        s.target.presuspend();
      }
    }
    suspended = true;
    long deadline = System.nanoTime() + suspendTimeoutNanos;
    synchronized (drained) {
      while (inflight.get() > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(drained, Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    int left = inflight.get();
    if (left > 0) {
      suspended = false;
      if (t != null) {
        for (Segment s : t.segments) {
          s.target.resume();
        }
      }
      replay();
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
      if (removed) {
        throw new DmException(name + ": No such device");
      }
      Table next = inactive;
      if (next == null && !suspended) {
        return;
      }
      if (next != null && !suspended) {
        suspendLocked();
      }
      Table going = next != null ? next : live;
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
        Table old = live;
        live = next;
        inactive = null;
        events.incrementAndGet();
        changed = true;
        if (old != null) {
          old.close();
        }
      }
      suspended = false;
      if (live != null) {
        for (Segment s : live.segments) {
          s.target.resume();
        }
      }
      replay();
    }
    if (changed) {
      mapper.announceChange(this);
    }
  }

  /** Ends the device: drains it (unless forced past a timeout), fails held I/O, closes tables. */
  void remove(boolean force) throws DmException {
    synchronized (control) {
      if (removed) {
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
      removed = true;
      suspended = false;
      for (IoRequest r; (r = deferred.poll()) != null; ) {
        r.complete(IoStatus.ESHUTDOWN);
      }
      if (inactive != null) {
        inactive.close();
        inactive = null;
      }
      if (live != null) {
        live.close();
        live = null;
      }
    }
  }

  /** Sends a message to the target whose segment holds {@code sector}. */
  String message(long sector, List<String> words) throws DmException {
    synchronized (control) {
      Table t = live;
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
    Table t = live;
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
    Table t = live;
    return t == null ? "" : t.text(StatusType.INFO);
  }

  /** What {@code dmsetup info} shows. */
  public DeviceInfo info() {
    synchronized (control) {
      Table t = live;
      return new DeviceInfo(name, suspended, readOnly, t != null, inactive != null,
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
    for (Table t : new Table[] {live, inactive}) {
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
