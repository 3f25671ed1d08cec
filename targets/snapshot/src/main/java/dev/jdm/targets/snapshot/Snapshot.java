package dev.jdm.targets.snapshot;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.Copier;
import dev.jdm.spi.CopyJob;
import dev.jdm.spi.DeviceIo;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MetadataBlocks;
import dev.jdm.spi.Region;
import dev.jdm.spi.RequestData;
import dev.jdm.spi.Scheduler;
import dev.jdm.spi.TargetContext;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * One COW device in use as a snapshot of an origin, the kernel's {@code struct dm_snapshot}: which
 * origin chunks were copied where (the completed exceptions), the exceptions being made (a copy of
 * the origin chunk in flight, and the writes waiting for it), the reads of the origin in flight, and
 * the store that keeps exceptions on the COW device.
 *
 * <p>The {@code snapshot} and {@code snapshot-merge} targets over this COW device are its
 * {@link Holder}s. Where the kernel hands the exception table over from the old target to the new
 * one when a snapshot's table is reloaded, here every target over the same COW device shares this
 * object, so a reload, or a second device with the same table, sees one set of exceptions. The
 * first holder's copier and worker do the background work.
 *
 * <p>Locking: {@link #lock} guards the exception tables and flags and is never held across I/O or a
 * call into another snapshot; completion order has a lock of its own; the holder list another.
 */
final class Snapshot implements ExceptionStore.Host {
  /** A target over this COW device: its services, and how it asked for the store. */
  static final class Holder {
    final TargetContext context;
    final Copier copier;
    final Scheduler scheduler;
    /** Metadata blocks of the COW device for a persistent store, else null. */
    final MetadataBlocks metadata;
    /** {@code PO}: a full COW device makes the snapshot Overflow rather than Invalid. */
    final boolean overflow;
    final boolean merge;
    private int jobs;

    Holder(TargetContext context, MetadataBlocks metadata, boolean overflow, boolean merge) {
      this.context = context;
      this.copier = context.copier();
      this.scheduler = context.scheduler();
      this.metadata = metadata;
      this.overflow = overflow;
      this.merge = merge;
    }

    synchronized void end() {
      if (--jobs == 0) {
        notifyAll();
      }
    }

    synchronized void awaitIdle() throws InterruptedException {
      while (jobs > 0) {
        wait();
      }
    }
  }

  /** An exception being made, the kernel's {@code dm_snap_pending_exception}. */
  static final class Pending {
    final Snapshot snapshot;
    final long oldChunk;
    final long newChunk;
    final long sequence;
    /** Guarded by the snapshot's lock. */
    boolean started;
    boolean waitingForReads;
    /** A write of the whole chunk that stands in for the copy. */
    IoRequest full;
    final ArrayDeque<IoRequest> originWrites = new ArrayDeque<>(2);
    final ArrayDeque<IoRequest> snapshotWrites = new ArrayDeque<>(2);
    /** Guarded by the snapshot's completion-order lock. */
    boolean copyError;

    Pending(Snapshot snapshot, long oldChunk, long newChunk, long sequence) {
      this.snapshot = snapshot;
      this.oldChunk = oldChunk;
      this.newChunk = newChunk;
      this.sequence = sequence;
    }
  }

  /**
   * Per-request state of the snapshot targets, the kernel's {@code dm_snap_tracked_chunk}; for a
   * discard, the parts it is made of and how the first failed one ended.
   */
  static final class Track implements RequestData, DeviceIo.Done, CopyJob.Done {
    /** The chunk of a tracked read (or merge-time write), else -1. */
    long chunk = -1;
    /** The exception a whole-chunk write stands in for the copy of, else null. */
    Pending full;
    final Region[] cow = {new Region()};
    final Region[] origin = {new Region()};
    private final AtomicInteger parts = new AtomicInteger();
    private volatile IoStatus failure = IoStatus.OK;
    private IoRequest request;

    @Override
    public void reset() {
      chunk = -1;
      full = null;
    }

    /** Starts counting the parts of {@code r}; one part stands for the caller until it is done. */
    void start(IoRequest r) {
      request = r;
      failure = IoStatus.OK;
      parts.set(1);
    }

    /** One more part is on its way. */
    void part() {
      parts.incrementAndGet();
    }

    @Override
    public void done(long errorMask, IoStatus firstError) {
      if (errorMask != 0 && failure == IoStatus.OK) {
        failure = firstError == IoStatus.OK ? IoStatus.EIO : firstError;
      }
      if (parts.decrementAndGet() == 0) {
        IoRequest r = request;
        request = null;
        r.complete(failure);
      }
    }

    @Override
    public void done(boolean readFailed, long writeErrorMask, boolean cancelled) {
      done(readFailed || cancelled ? 1 : writeErrorMask, IoStatus.EIO);
    }
  }

  final Origins origins;
  final Origins.Entry entry;
  final BlockDevice origin;
  final BlockDevice cow;
  /** What a snapshot target uses: the origin and the COW device. */
  final List<BlockDevice> devices;
  final boolean persistent;
  final ExceptionStore store;
  /** Sectors of the origin the snapshot covers: origin writes beyond it make no exceptions. */
  final long sectors;
  // Set by load() before the snapshot is published; fixed afterwards.
  long chunkSize;
  int shift;
  long mask;

  final Object lock = new Object();
  /** Guarded by lock: origin chunk to COW chunk. */
  final ChunkTable complete;
  /** Guarded by lock: chunks with reads of the origin (or merge-time COW writes) in flight. */
  final ChunkTable tracked = new ChunkTable();
  /** Guarded by lock. */
  final HashMap<Long, Pending> pending = new HashMap<>();
  private long nextSequence;
  private int pendingCount;
  /** Guarded by lock: no more exceptions, the last holder is going. */
  private boolean closing;
  /** Guarded by lock: the chunks the merge is copying now, and writes to them held meanwhile. */
  long firstMerging;
  int numMerging;
  final ArrayDeque<IoRequest> heldForMerge = new ArrayDeque<>();

  volatile boolean valid = true;
  volatile boolean overflowed;
  /** Origin writes make exceptions once a holder has gone live. */
  volatile boolean active;
  /** A snapshot-merge target took over: no new exceptions, plain snapshot targets fail I/O. */
  volatile boolean merging;
  volatile boolean mergeFailed;

  private final Object order = new Object();
  private long completeSequence;
  private final TreeMap<Long, Pending> outOfOrder = new TreeMap<>();
  private ArrayDeque<Pending> ready = new ArrayDeque<>();
  private boolean draining;

  /** Guarded by itself. */
  private final List<Holder> holders = new ArrayList<>();

  /**
   * Copy jobs in flight at most, the rest wait their turn (the kernel's {@code cow_threshold},
   * much lower: each job takes one of the copier's chunk buffers, whose pool is small).
   */
  static final int COPIES_IN_FLIGHT = 8;
  /** Guarded by itself: runs of exceptions waiting for a copy slot. */
  private final ArrayDeque<List<Pending>> toCopy = new ArrayDeque<>();
  private int copying;

  Snapshot(Origins origins, Origins.Entry entry, BlockDevice origin, BlockDevice cow,
      boolean persistent, long tableChunkSize, long sectors) {
    this.origins = origins;
    this.entry = entry;
    this.origin = origin;
    this.cow = cow;
    this.devices = List.of(origin, cow);
    this.persistent = persistent;
    this.store = persistent ? new PersistentStore(cow, tableChunkSize, this)
        : new TransientStore(cow, tableChunkSize);
    this.sectors = sectors;
    this.complete = new ChunkTable();
  }

  /** Takes the chunk size the store settled on; called once, before the snapshot is shared. */
  void load() {
    chunkSize = store.chunkSize();
    shift = Long.numberOfTrailingZeros(chunkSize);
    mask = chunkSize - 1;
  }

  /** Records an exception read back from the COW device. */
  void loaded(long oldChunk, long newChunk) {
    complete.put(oldChunk, newChunk);
  }

  long cowSector(long newChunk, long sector) {
    return (newChunk << shift) | (sector & mask);
  }

  // ------------------------------------------------------------------ holders

  void add(Holder h) {
    synchronized (holders) {
      holders.add(h);
    }
  }

  int holderCount() {
    synchronized (holders) {
      return holders.size();
    }
  }

  boolean hasMergeHolder() {
    synchronized (holders) {
      return holders.stream().anyMatch(h -> h.merge);
    }
  }

  /** The holder whose services do the next piece of background work, counted busy; or null. */
  private Holder enter() {
    synchronized (holders) {
      if (holders.isEmpty()) {
        return null;
      }
      Holder h = holders.getFirst();
      synchronized (h) {
        h.jobs++;
      }
      return h;
    }
  }

  /**
   * Lets {@code h} go: the last holder first stops new exceptions and waits for those in flight;
   * every holder waits for the background work it took on. Control path.
   */
  void remove(Holder h, boolean last) throws InterruptedException {
    if (last) {
      synchronized (lock) {
        closing = true;
        while (pendingCount > 0) {
          lock.wait();
        }
      }
    }
    synchronized (holders) {
      holders.remove(h);
    }
    h.awaitIdle();
  }

  /** Tells whoever waits on each holder's device that the snapshot's state changed. */
  void raiseEvent() {
    List<Holder> all;
    synchronized (holders) {
      all = List.copyOf(holders);
    }
    for (Holder h : all) {
      h.context.raiseEvent();
    }
  }

  @Override
  public void run(Consumer<MetadataBlocks> work) {
    Holder h = enter();
    if (h == null) {
      throw new IllegalStateException(cow.path() + ": snapshot store work with no target left");
    }
    try {
      h.scheduler.execute(() -> {
        try {
          work.accept(h.metadata);
        } finally {
          h.end();
        }
      });
    } catch (RuntimeException e) {
      h.end();
      throw e;
    }
  }

  // ------------------------------------------------------------ making exceptions

  /**
   * Under {@link #lock}: a new pending exception for {@code chunk}, or null when the COW device is
   * full (or the last holder is going).
   */
  Pending newPending(long chunk) {
    if (closing) {
      return null;
    }
    long c = store.prepare();
    if (c < 0) {
      return null;
    }
    Pending pe = new Pending(this, chunk, c, nextSequence++);
    pending.put(chunk, pe);
    pendingCount++;
    return pe;
  }

  /** Under {@link #lock}: the pending exception of {@code chunk}, or null. */
  Pending pendingOf(long chunk) {
    return pending.isEmpty() ? null : pending.get(chunk);
  }

  /**
   * The exceptions an origin write of sectors {@code [first, end)} needs in this snapshot, made and
   * started if missing, as the kernel's {@code __origin_write}. When {@code r} is given and an
   * exception is still being made, {@code r} waits for it and is sent on (through the origin again)
   * once it is done.
   *
   * @return whether an exception of the range is still being made ({@code r} then waits)
   */
  boolean originWrite(IoRequest r, long first, long end) {
    if (!active || merging || !valid || first >= sectors) {
      return false;
    }
    long last = (Math.min(end, sectors) - 1) >>> shift;
    Pending newest = null;
    List<Pending> starts = null;
    boolean invalidated = false;
    synchronized (lock) {
      if (!valid || merging) {
        return false;
      }
      // The whole range at once: its new exceptions get consecutive COW chunks, copied together.
      for (long c = first >>> shift; c <= last; c++) {
        Pending pe = pendingOf(c);
        if (pe == null) {
          if (complete.get(c) != ChunkTable.ABSENT) {
            continue;
          }
          pe = newPending(c);
          if (pe == null) {
            invalidated = !closing && invalidate();
            newest = null;
            break;
          }
        }
        // Exceptions finish in the order they were allocated: waiting for the newest one the
        // range needs is waiting for them all.
        if (newest == null || pe.sequence > newest.sequence) {
          newest = pe;
        }
        if (!pe.started) {
          pe.started = true;
          if (starts == null) {
            starts = new ArrayList<>();
          }
          starts.add(pe);
        }
      }
      if (newest != null && r != null) {
        newest.originWrites.add(r);
      }
    }
    if (starts != null) {
      startCopies(starts);
    }
    if (invalidated) {
      dropped();
    }
    return newest != null;
  }

  /** Starts the copies of {@code pes}, one per run of chunks consecutive on both devices. */
  private void startCopies(List<Pending> pes) {
    int from = 0;
    for (int i = 1; i <= pes.size(); i++) {
      if (i == pes.size() || pes.get(i).oldChunk != pes.get(i - 1).oldChunk + 1
          || pes.get(i).newChunk != pes.get(i - 1).newChunk + 1) {
        startCopy(pes.subList(from, i));
        from = i;
      }
    }
  }

  /** Copies the origin chunk of {@code pe} into its COW chunk. */
  void startCopy(Pending pe) {
    startCopy(List.of(pe));
  }

  /**
   * Copies the origin chunks of {@code run} (consecutive on both devices) into the COW device
   * with a holder's copier, now or when one of the copies in flight ends.
   */
  private void startCopy(List<Pending> run) {
    synchronized (toCopy) {
      if (copying >= COPIES_IN_FLIGHT) {
        toCopy.add(run);
        return;
      }
      copying++;
    }
    copy(run);
  }

  private void copy(List<Pending> run) {
    Pending first = run.getFirst();
    long from = first.oldChunk << shift;
    long n = Math.min(run.size() * chunkSize, origin.sizeInSectors() - from);
    Holder h = enter();
    if (h == null) {
      copyEnded(run, true);
      return;
    }
    if (n <= 0) {
      h.end();
      copyEnded(run, false);
      return;
    }
    Region src = new Region(origin, from, n);
    Region[] dst = {new Region(cow, first.newChunk << shift, n)};
    try {
      h.copier.copy(src, dst, 1, (readFailed, writeErrors, cancelled) -> {
        try {
          copyEnded(run, readFailed || writeErrors != 0 || cancelled);
        } finally {
          h.end();
        }
      });
    } catch (RuntimeException e) {
      h.end();
      copyEnded(run, true);
    }
  }

  /** A copy slot is free again: the next run waiting takes it. */
  private void copyEnded(List<Pending> run, boolean error) {
    List<Pending> next;
    synchronized (toCopy) {
      next = toCopy.poll();
      if (next == null) {
        copying--;
      }
    }
    for (Pending pe : run) {
      copied(pe, error);
    }
    if (next != null) {
      copy(next);
    }
  }

  /**
   * The copy of {@code pe} ended (or its whole-chunk write did). Exceptions go to the store in the
   * order their chunks were allocated, as the kernel's {@code copy_callback}: one thread at a time
   * hands them over, whichever finished the copy the others wait for.
   */
  void copied(Pending pe, boolean error) {
    synchronized (order) {
      pe.copyError = error;
      outOfOrder.put(pe.sequence, pe);
      while (!outOfOrder.isEmpty() && outOfOrder.firstKey() == completeSequence) {
        ready.add(outOfOrder.pollFirstEntry().getValue());
        completeSequence++;
      }
      if (draining) {
        return;
      }
      draining = true;
    }
    while (true) {
      ArrayDeque<Pending> batch;
      synchronized (order) {
        if (ready.isEmpty()) {
          draining = false;
          return;
        }
        batch = ready;
        ready = new ArrayDeque<>();
      }
      for (Pending p : batch) {
        store.commit(p.oldChunk, p.newChunk, !p.copyError, ok -> committed(p, ok));
      }
    }
  }

  /** The store committed {@code pe} (or failed to), the kernel's {@code pending_complete}. */
  private void committed(Pending pe, boolean ok) {
    boolean error = false;
    boolean invalidated = false;
    synchronized (lock) {
      if (!ok) {
        error = true;
        invalidated = invalidate();
      } else if (!valid) {
        error = true;
      } else {
        complete.put(pe.oldChunk, pe.newChunk);
        if (tracked.get(pe.oldChunk) > 0) {
          // Reads of the old data on the origin are in flight: the origin writes wait for them.
          pe.waitingForReads = true;
          return;
        }
      }
      pending.remove(pe.oldChunk);
    }
    if (invalidated) {
      dropped();
    }
    finish(pe, error);
  }

  /** Sends on what waited for {@code pe}, which is out of the pending table. */
  private void finish(Pending pe, boolean error) {
    if (pe.full != null) {
      pe.full.complete(error ? IoStatus.EIO : IoStatus.OK);
    }
    for (IoRequest r; (r = pe.snapshotWrites.poll()) != null; ) {
      if (error) {
        r.complete(IoStatus.EIO);
      } else {
        r.device().submit(r);
      }
    }
    for (IoRequest r; (r = pe.originWrites.poll()) != null; ) {
      origins.retry(entry, r);
    }
    synchronized (lock) {
      if (--pendingCount == 0) {
        lock.notifyAll();
      }
    }
    origins.exceptionDone();
  }

  // ------------------------------------------------------------ tracked chunks

  /** Under {@link #lock}: one more read (or merge-time write) of {@code chunk} in flight. */
  void track(long chunk) {
    long n = tracked.get(chunk);
    tracked.put(chunk, n == ChunkTable.ABSENT ? 1 : n + 1);
  }

  /** A request of a snapshot target ended: its chunk is no longer tracked, if it was. */
  void untrack(Track t) {
    if (t.chunk >= 0) {
      long chunk = t.chunk;
      t.chunk = -1;
      untrack(chunk);
    }
  }

  /** A tracked request of {@code chunk} ended; the last one lets a finished exception go on. */
  void untrack(long chunk) {
    Pending release = null;
    synchronized (lock) {
      long n = tracked.get(chunk) - 1;
      if (n > 0) {
        tracked.put(chunk, n);
      } else {
        tracked.remove(chunk);
        Pending pe = pendingOf(chunk);
        if (pe != null && pe.waitingForReads) {
          pending.remove(chunk);
          release = pe;
        }
      }
    }
    if (release != null) {
      finish(release, false);
    }
  }

  boolean isTracked(long chunk) {
    synchronized (lock) {
      return tracked.get(chunk) != ChunkTable.ABSENT;
    }
  }

  // ------------------------------------------------------------ failure

  /**
   * Under {@link #lock}: marks the snapshot invalid; returns true when this call did, and the
   * caller then calls {@link #dropped} outside the lock.
   */
  boolean invalidate() {
    if (!valid) {
      return false;
    }
    valid = false;
    return true;
  }

  /** After {@link #invalidate}: marks the store invalid on the COW device and raises an event. */
  void dropped() {
    store.drop();
    raiseEvent();
  }

  /** Waits until no exception is being made (before a merge starts). */
  void awaitNoPending() throws InterruptedException {
    synchronized (lock) {
      while (pendingCount > 0) {
        lock.wait();
      }
    }
  }

  /** The status line's INFO part as the kernel prints it. */
  String info(boolean mergeView) {
    if (!valid || (!mergeView && merging)) {
      return "Invalid";
    }
    if (mergeFailed) {
      return "Merge failed";
    }
    if (overflowed) {
      return "Overflow";
    }
    return store.sectorsAllocated() + "/" + store.totalSectors() + " " + store.metadataSectors();
  }
}
