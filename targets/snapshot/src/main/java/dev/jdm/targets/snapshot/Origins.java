package dev.jdm.targets.snapshot;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.MetadataBlocks;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import java.io.IOException;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * How snapshots and origins find each other, the kernel's origin hash in {@code dm-snap.c}: one
 * {@link Entry} per origin device listing its snapshots, and the snapshot of each COW device. One
 * per daemon, shared by every snapshot target through {@link TargetContext#shared}; devices are
 * told apart by identity, as the core opens each backing device once.
 */
final class Origins {
  /** The key the registry is shared under. */
  static final String KEY = "dev.jdm.targets.snapshot.origins";

  /** An origin device and its snapshots. */
  static final class Entry {
    final BlockDevice device;
    /** Replaced, never changed in place: origin writes read it without a lock. */
    volatile Snapshot[] snapshots = new Snapshot[0];
    private int users;

    Entry(BlockDevice device) {
      this.device = device;
    }
  }

  private final Map<BlockDevice, Entry> entries = new IdentityHashMap<>();
  private final Map<BlockDevice, Snapshot> byCow = new IdentityHashMap<>();
  private final Object done = new Object();
  private long exceptionsDone;

  /** The entry of {@code origin}, held until {@link #release}. */
  synchronized Entry acquire(BlockDevice origin) {
    Entry e = entries.computeIfAbsent(origin, Entry::new);
    e.users++;
    return e;
  }

  synchronized void release(Entry e) {
    if (--e.users == 0) {
      entries.remove(e.device);
    }
  }

  /**
   * The acquiring half of the snapshot constructors: opens the origin and the COW device, checks
   * the chunk size against them, and attaches the target to the snapshot of that COW device.
   */
  static Attached open(TargetContext ctx, long length, SnapshotArgs a, boolean merge)
      throws TargetException {
    BlockDevice origin;
    try {
      origin = ctx.openDevice(a.origin(), merge ? DeviceMode.READ_WRITE : DeviceMode.READ_ONLY);
    } catch (TargetException e) {
      throw new TargetException("Cannot get origin device", e);
    }
    BlockDevice cow;
    try {
      cow = ctx.openDevice(a.cow(), ctx.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE);
    } catch (TargetException e) {
      throw new TargetException("Cannot get COW device", e);
    }
    if (cow == origin) {
      throw new TargetException("COW device cannot be the same as origin device");
    }
    if (a.chunkSize() != 0) {
      long block = Math.max(cow.limits().logicalBlockSize(), origin.limits().logicalBlockSize())
          >>> IoRequest.SECTOR_SHIFT;
      String problem = ExceptionStore.chunkSizeProblem(a.chunkSize(), block);
      if (problem != null) {
        throw SnapshotArgs.storeProblem(problem);
      }
    }
    return ctx.shared(KEY, Origins.class, Origins::new)
        .attach(ctx, length, a, merge, origin, cow);
  }

  /**
   * Makes the target being built a holder of the snapshot on {@code cow}: joins the one in use, or
   * reads the COW device and registers a new one with its origin. The constructor's last step.
   */
  synchronized Attached attach(TargetContext ctx, long length, SnapshotArgs a, boolean merge,
      BlockDevice origin, BlockDevice cow) throws TargetException {
    Snapshot s = byCow.get(cow);
    Entry e = entries.get(origin);
    if (merge && e != null) {
      for (Snapshot other : e.snapshots) {
        if (other != s && other.hasMergeHolder()) {
          throw new TargetException("A snapshot is already merging.");
        }
      }
    }
    if (s != null) {
      if (s.origin != origin || s.persistent != a.persistent()) {
        throw new TargetException("Snapshot cow pairing for exception table handover failed");
      }
      if (merge && !s.store.mergeable()) {
        throw new TargetException("Snapshot exception store does not support snapshot-merge.");
      }
      Snapshot.Holder h = new Snapshot.Holder(ctx, metadata(ctx, s), a.overflow(), merge);
      s.add(h);
      return new Attached(s, h);
    }
    if (merge && !a.persistent()) {
      throw new TargetException("Snapshot exception store does not support snapshot-merge.");
    }
    e = acquire(origin);
    try {
      s = new Snapshot(this, e, origin, cow, a.persistent(), a.chunkSize(), length);
      MetadataBlocks[] opened = {null};
      boolean valid;
      try {
        valid = s.store.read(size -> opened[0] = ctx.metadata(cow, 0, size, false), s::loaded);
      } catch (IOException x) {
        throw new TargetException("Failed to read snapshot metadata", x);
      }
      if (s.store.chunkSize() == 0) {
        throw new TargetException("Chunk size not set");
      }
      s.load();
      s.valid = valid;
      Snapshot.Holder h = new Snapshot.Holder(ctx, opened[0], a.overflow(), merge);
      s.add(h);
      byCow.put(cow, s);
      Snapshot[] list = Arrays.copyOf(e.snapshots, e.snapshots.length + 1);
      list[list.length - 1] = s;
      e.snapshots = list;
      return new Attached(s, h);
    } catch (TargetException | RuntimeException x) {
      release(e);
      throw x;
    }
  }

  /** Metadata blocks of the COW device for one more holder of a persistent snapshot. */
  private static MetadataBlocks metadata(TargetContext ctx, Snapshot s) throws TargetException {
    if (!s.persistent) {
      return null;
    }
    return ctx.metadata(s.cow, 0, Math.toIntExact(s.chunkSize << IoRequest.SECTOR_SHIFT), false);
  }

  /** A target's hold on a snapshot. */
  record Attached(Snapshot snapshot, Snapshot.Holder holder) {}

  /**
   * Lets a holder go, from its target's close; the last one takes the snapshot off its origin once
   * its exceptions in flight are done.
   */
  synchronized void detach(Attached a) {
    Snapshot s = a.snapshot();
    boolean last = s.holderCount() == 1;
    try {
      s.remove(a.holder(), last);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (last) {
      byCow.remove(s.cow);
      Entry e = s.entry;
      e.snapshots = Arrays.stream(e.snapshots).filter(x -> x != s).toArray(Snapshot[]::new);
      release(e);
    }
  }

  /**
   * An origin write, the kernel's {@code do_origin}: makes the exceptions it needs in every
   * snapshot of the origin.
   *
   * @return true when {@code r} waits for an exception; it is sent on once they are all made
   */
  boolean write(Entry e, IoRequest r) {
    long first = r.sector();
    long end = first + r.sectors();
    boolean waiting = false;
    for (Snapshot s : e.snapshots) {
      if (s.originWrite(waiting ? null : r, first, end)) {
        waiting = true;
      }
    }
    return waiting;
  }

  /** Sends an origin write on that waited for an exception, unless it must wait for another. */
  void retry(Entry e, IoRequest r) {
    if (!write(e, r)) {
      r.device().submit(r);
    }
  }

  /**
   * Makes the exceptions sectors {@code [first, first + sectors)} of the origin need in every
   * snapshot but a merging one, before a merge overwrites them (the kernel's
   * {@code origin_write_extent}).
   *
   * @return true when some are still being made: wait with {@link #awaitExceptionDone} and ask again
   */
  boolean writeExtent(Entry e, long first, long sectors) {
    boolean waiting = false;
    for (Snapshot s : e.snapshots) {
      waiting |= s.originWrite(null, first, first + sectors);
    }
    return waiting;
  }

  /** Counts a finished exception and wakes a merge waiting for one. */
  void exceptionDone() {
    synchronized (done) {
      exceptionsDone++;
      done.notifyAll();
    }
  }

  /** How many exceptions have finished so far. */
  long exceptionsDone() {
    synchronized (done) {
      return exceptionsDone;
    }
  }

  /** Waits until more than {@code seen} exceptions have finished, or 100 ms. */
  void awaitExceptionDone(long seen) throws InterruptedException {
    synchronized (done) {
      if (exceptionsDone == seen) {
        done.wait(100);
      }
    }
  }
}
