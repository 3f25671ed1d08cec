package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The I/O side of a {@link MappedDevice}, the kernel's {@code dm_submit_bio} and
 * {@code __map_bio}: checks each request once, cuts it at segment ends and split boundaries into
 * pooled {@link Clone}s, maps each by its target and sends it on; the last piece completes the
 * original. While the device is suspended, new requests wait here. No lock is taken and nothing is
 * allocated for an unsplit request; requests of one caller complete in whatever order their devices
 * finish them.
 */
final class DataPath {
  private static final Logger LOG = LoggerFactory.getLogger(DataPath.class);
  private static final int ZERO_CHUNK = 1 << 20;
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();

  private final MappedDevice device;
  private final FreeList<Clone> clones;
  private final FreeList<DmIo> ios;
  private final boolean readOnly;

  volatile Table live;
  private volatile boolean suspended;
  private volatile boolean removed;
  private final AtomicInteger inflight = new AtomicInteger();
  private final ConcurrentLinkedQueue<IoRequest> deferred = new ConcurrentLinkedQueue<>();
  private final Object drained = new Object();
  private final DeviceStats stats = new DeviceStats();
  private volatile IoTracer tracer;
  /** The last gone lower device reported, so the log says it once, not per request. */
  private volatile MappedDevice reportedGone;

  DataPath(MappedDevice device, FreeList<Clone> clones, FreeList<DmIo> ios, boolean readOnly) {
    this.device = device;
    this.clones = clones;
    this.ios = ios;
    this.readOnly = readOnly;
  }

  void submit(IoRequest r) {
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
    DmIo io = ios.take().start(this, t, r, start);
    try {
      if (r.op() == IoOp.FLUSH) {
        flushAll(io);
      } else if (r.op() == IoOp.WRITE && r.hasFlag(IoRequest.PREFLUSH) && !t.takesPreflush) {
        io.dataAfterFlush = true;
        flushAll(io);
      } else {
        issue(io);
      }
    } catch (RuntimeException e) {
      // A bug below must fail this request, not leave it and the device's drain hanging.
      LOG.error("{}: {} failed", device.name(), r, e);
      io.fail(IoStatus.EIO);
    }
    io.release();
  }

  /**
   * Whether {@code r} may run: the one place a request is judged, whichever frontend sent it
   * (nbdkit's {@code validate_request}). Null when it may; else the status it fails with.
   */
  private IoStatus check(Table t, IoRequest r) {
    IoOp op = r.op();
    IoStatus bad = check(t, op, r.sector(), r.length());
    if (bad != null || !op.hasData()) {
      return bad;
    }
    long length = r.length();
    if (r.data() == null || r.dataOffset() < 0 || r.dataOffset() > r.data().capacity() - length) {
      return IoStatus.EINVAL;
    }
    return null;
  }

  /**
   * The checks that need no data buffer, in this order: the device is there and has a table
   * (ESHUTDOWN once removed, EIO while it has none or fails everything), may be changed (EPERM),
   * the range is not empty and aligned to the table's logical block (EINVAL), lies inside the
   * device (ENOSPC for
   * writes past the end, EINVAL for reads and discards, as NBD's proto.md asks), and the device can
   * do the op (EOPNOTSUPP).
   */
  IoStatus check(Table t, IoOp op, long sector, long length) {
    if (removed) {
      return IoStatus.ESHUTDOWN;
    }
    if (t == null || t.failing) {
      return IoStatus.EIO;
    }
    if (readOnly && op.changesData()) {
      return IoStatus.EPERM;
    }
    if (op == IoOp.FLUSH) {
      return null;
    }
    int block = t.limits.logicalBlockSize();
    if (length <= 0 || (((sector << IoRequest.SECTOR_SHIFT) | length) & (block - 1)) != 0) {
      return IoStatus.EINVAL;
    }
    long sectors = length >>> IoRequest.SECTOR_SHIFT;
    if (sector < 0 || sector > t.size - sectors) {
      return op == IoOp.WRITE || op == IoOp.WRITE_ZEROES ? IoStatus.ENOSPC : IoStatus.EINVAL;
    }
    if (op == IoOp.DISCARD && !t.discard) {
      return IoStatus.EOPNOTSUPP;
    }
    return null;
  }

  /** FLUSH: to the targets that take it through map, to every other target's devices directly. */
  private void flushAll(DmIo io) {
    Table t = io.table;
    for (Segment s : t.flushSegments) {
      Clone c = clones.take();
      IoRequest r = c.start(io, s).prepareRange(IoOp.FLUSH, 0, 0, 0, c);
      io.pending.incrementAndGet();
      map(s, c, r, io);
    }
    for (BlockDevice d : t.flushDevices) {
      Clone c = clones.take();
      IoRequest r = c.start(io, null).prepareRange(IoOp.FLUSH, 0, 0, 0, c);
      r.remap(d, 0);
      io.pending.incrementAndGet();
      d.submit(r);
    }
  }

  /** Cuts the original into clones at segment ends and split boundaries, and maps each. */
  void issue(DmIo io) {
    IoRequest r = io.original;
    Table t = io.table;
    IoOp op0 = r.op();
    boolean range = !op0.hasData();
    int flags = t.takesPreflush ? r.flags() : r.flags() & ~IoRequest.PREFLUSH;
    long sector = r.sector();
    long end = sector + r.sectors();
    int off = r.dataOffset();
    while (sector < end) {
      Segment s = t.at(sector);
      long rel = sector - s.start;
      long n = Math.min(end, s.end()) - sector;
      if (s.maxIo > 0 && !(range && s.wholeRanges)) {
        n = Math.min(n, s.maxIo - rel % s.maxIo);
      }
      IoOp op = op0;
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
      Clone c = clones.take();
      IoRequest piece = c.start(io, s);
      if (op.hasData()) {
        piece.prepare(op, flags, rel, (int) (n << IoRequest.SECTOR_SHIFT), data, dataOff, c);
      } else {
        piece.prepareRange(op, flags, rel, n << IoRequest.SECTOR_SHIFT, c);
      }
      io.pending.incrementAndGet();
      map(s, c, piece, io);
      sector += n;
      if (r.data() != null) {
        off += (int) (n << IoRequest.SECTOR_SHIFT);
      }
    }
  }

  private void map(Segment s, Clone c, IoRequest piece, DmIo io) {
    c.bindData();
    MapResult res;
    try {
      res = s.target.map(piece);
    } catch (RuntimeException e) {
      LOG.error("{}: {}: map failed for {}", device.name(), s.typeName, piece, e);
      if (!c.belongsTo(io)) {
        return; // the target completed the piece before it threw: it is counted off already
      }
      res = MapResult.KILL;
    }
    switch (res) {
      case REMAPPED -> {
        BlockDevice d = piece.device();
        if (d instanceof MappedDevice lower && lower.gone()) {
          lowerGone(s, lower);
          piece.complete(IoStatus.EIO);
        } else if (d == null || piece.sector() < 0
            || (piece.op() != IoOp.FLUSH && piece.sector() > d.sizeInSectors() - piece.sectors())) {
          LOG.error("{}: {}: remapped outside its device: {}", device.name(), s.typeName, piece);
          piece.complete(IoStatus.EIO);
        } else {
          d.submit(piece);
        }
      }
      case SUBMITTED -> { }
      case KILL -> {
        io.fail(IoStatus.EIO);
        c.recycle();
        io.release();
      }
      case REQUEUE -> {
        io.requeue = true;
        c.recycle();
        io.release();
      }
      case null -> {
        io.fail(IoStatus.EIO);
        c.recycle();
        io.release();
      }
    }
  }

  /** Says once per lower device that a stacked device it maps to is gone. */
  private void lowerGone(Segment s, MappedDevice lower) {
    if (reportedGone != lower) {
      reportedGone = lower;
      LOG.warn("{}: {}: lower device {} is gone ({}); its I/O fails", device.name(), s.typeName,
          lower.path(), lower.removed() ? "removed" : "removed with --force, still open");
    }
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
    ios.give(io);
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
    stats.record(r.op(), r.length(), latency, st);
    IoTracer t = tracer;
    if (t != null) {
      t.completed(start, r.op(), r.sector(), r.length(), latency, st);
    }
  }

  void trace(IoTracer t) {
    tracer = t;
  }

  IoTracer tracer() {
    return tracer;
  }

  DeviceStats.Snapshot stats() {
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

  // ------------------------------------------------- what the control path asks of the data path

  boolean suspended() {
    return suspended;
  }

  boolean removed() {
    return removed;
  }

  /** Holds new requests back from now on. */
  void hold() {
    suspended = true;
  }

  /**
   * Waits until no request is in flight or {@code timeoutNanos} passed.
   *
   * @return how many requests are still in flight (0: drained)
   */
  int drain(long timeoutNanos) {
    long deadline = System.nanoTime() + timeoutNanos;
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
    return Math.max(0, inflight.get());
  }

  /** Lets requests through again, the held-back ones first. */
  void release() {
    suspended = false;
    replay();
  }

  /** The device is gone: held-back and later requests fail with ESHUTDOWN. */
  void shutdown() {
    removed = true;
    suspended = false;
    for (IoRequest r; (r = deferred.poll()) != null; ) {
      r.complete(IoStatus.ESHUTDOWN);
    }
  }
}
