package dev.jdm.targets.snapshot;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.EndIoResult;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.Region;
import dev.jdm.spi.RequestData;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * The {@code snapshot-merge} target: takes the place of {@code snapshot-origin} and copies the
 * snapshot's exceptions back into the origin in the background, newest first, while the device
 * stays in use. A chunk not yet merged is read and written in the COW device (writes to the chunks
 * being copied wait for them); every other chunk on the origin, where writes make exceptions in the
 * origin's other snapshots as a {@code snapshot-origin} would. When {@code <sectors_allocated>}
 * equals {@code <metadata_sectors>} in the status the merge is done and the table can be replaced
 * by the origin's. Same arguments as {@code snapshot}, persistent stores only.
 */
public final class SnapshotMergeTarget implements Target {
  private final SnapshotArgs args;
  private final Origins.Attached attached;
  private final Snapshot s;
  private final Snapshot.Holder holder;
  private final Object merge = new Object();
  /** Guarded by merge. */
  private boolean running;
  private volatile boolean shutdown;

  private SnapshotMergeTarget(SnapshotArgs args, Origins.Attached attached) {
    this.args = args;
    this.attached = attached;
    this.s = attached.snapshot();
    this.holder = attached.holder();
  }

  /** The type registered as {@code snapshot-merge}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "snapshot-merge";
    }

    @Override
    public Version version() {
      return Version.of(1, 5, 0);
    }

    @Override
    public Set<Feature> features() {
      return Set.of(Feature.END_IO);
    }

    @Override
    public String usage() {
      return "<origin> <COW device> <P> <chunk_size> [<#feature args> [<arg>]*]";
    }

    @Override
    public Target create(TargetContext context, long lengthInSectors, List<String> args)
        throws TargetException {
      SnapshotArgs a = SnapshotArgs.parse(args);
      return new SnapshotMergeTarget(a, Origins.open(context, lengthInSectors, a, true));
    }
  }

  @Override
  public MapResult map(IoRequest r) {
    if (r.op() == IoOp.DISCARD) {
      // Once merging, discards no longer change anything.
      r.complete(IoStatus.OK);
      return MapResult.SUBMITTED;
    }
    boolean write = r.op() == IoOp.WRITE;
    long sector = r.sector();
    long chunk = sector >>> s.shift;
    synchronized (s.lock) {
      long e = s.valid ? s.complete.get(chunk) : ChunkTable.ABSENT;
      if (e != ChunkTable.ABSENT) {
        if (write && chunk >= s.firstMerging && chunk < s.firstMerging + s.numMerging) {
          r.remap(s.origin, sector);
          s.heldForMerge.add(r);
          return MapResult.SUBMITTED;
        }
        r.remap(s.cow, s.cowSector(e, sector));
        if (write) {
          s.track(chunk);
          Snapshot.Track t = r.targetData();
          t.chunk = chunk;
        }
        return MapResult.REMAPPED;
      }
    }
    r.remap(s.origin, sector);
    if (write && s.origins.write(s.entry, r)) {
      return MapResult.SUBMITTED;
    }
    return MapResult.REMAPPED;
  }

  @Override
  public EndIoResult endIo(IoRequest r, IoStatus status) {
    Snapshot.Track t = r.targetData();
    s.untrack(t);
    return EndIoResult.DONE;
  }

  @Override
  public RequestData newRequestData() {
    return new Snapshot.Track();
  }

  @Override
  public long maxIoSectors() {
    return s.chunkSize;
  }

  @Override
  public boolean supports(IoOp op) {
    return args.supports(op);
  }

  @Override
  public List<BlockDevice> devices() {
    return s.devices;
  }

  /** Each time the table goes live the merge (re)starts where it stopped. */
  @Override
  public void resume() {
    s.active = true;
    s.merging = true;
    synchronized (merge) {
      if (running) {
        return;
      }
      running = true;
      shutdown = false;
    }
    try {
      holder.scheduler.execute(this::mergeAll);
    } catch (RuntimeException e) {
      stopped();
      throw e;
    }
  }

  @Override
  public void presuspend() {
    stopMerge();
  }

  @Override
  public void close() {
    stopMerge();
    s.origins.detach(attached);
  }

  /** Asks the merge to stop after the chunks it is copying, and waits for it. */
  private void stopMerge() {
    shutdown = true;
    synchronized (merge) {
      while (running) {
        try {
          merge.wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  private void stopped() {
    synchronized (merge) {
      running = false;
      merge.notifyAll();
    }
  }

  /** The merge, on a worker: the kernel's {@code snapshot_merge_next_chunks} as a loop. */
  private void mergeAll() {
    try {
      s.awaitNoPending();
      long[] last = new long[2];
      while (!shutdown) {
        if (!s.valid) {
          return; // an invalid snapshot cannot be merged
        }
        int n;
        try {
          n = s.store.prepareMerge(holder.metadata, last);
        } catch (IOException e) {
          failed(new ArrayDeque<>());
          return;
        }
        if (n <= 0) {
          s.raiseEvent(); // merged
          return;
        }
        if (!mergeChunks(last[0] + 1 - n, last[1] + 1 - n, n)) {
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      stopped();
    }
  }

  /**
   * Copies {@code n} consecutive exceptions from COW chunk {@code newChunk} back to origin chunk
   * {@code oldChunk}; returns false when the merge failed.
   */
  private boolean mergeChunks(long oldChunk, long newChunk, int n) throws InterruptedException {
    long sector = oldChunk << s.shift;
    long size = n * s.chunkSize;
    long count = Math.min(size, s.origin.sizeInSectors() - sector);
    // The other snapshots of the origin keep what the merge is about to overwrite.
    long seen = s.origins.exceptionsDone();
    while (s.origins.writeExtent(s.entry, sector, size)) {
      s.origins.awaitExceptionDone(seen);
      seen = s.origins.exceptionsDone();
    }
    synchronized (s.lock) {
      s.firstMerging = oldChunk;
      s.numMerging = n;
    }
    for (int i = 0; i < n; i++) {
      while (s.isTracked(oldChunk + i)) {
        Thread.sleep(1); // writes to the COW copy of the chunk are still in flight
      }
    }
    boolean ok = copy(new Region(s.cow, newChunk << s.shift, count),
        new Region(s.origin, sector, count))
        && holder.context.io().run(IoOp.FLUSH, 0, new Region[] {new Region(s.origin, 0, 0)}, 1,
            null, 0) == 0;
    if (ok) {
      try {
        s.store.commitMerge(holder.metadata, n);
      } catch (IOException e) {
        ok = false;
      }
    }
    ArrayDeque<IoRequest> held = new ArrayDeque<>();
    synchronized (s.lock) {
      if (ok) {
        for (int i = n - 1; i >= 0; i--) {
          s.complete.remove(oldChunk + i);
        }
      }
      s.firstMerging = 0;
      s.numMerging = 0;
      held.addAll(s.heldForMerge);
      s.heldForMerge.clear();
    }
    if (!ok) {
      failed(held);
      return false;
    }
    for (IoRequest r : held) {
      r.device().submit(r);
    }
    return true;
  }

  /** One copy with the copier, waited for. */
  private boolean copy(Region from, Region to) throws InterruptedException {
    CompletableFuture<Boolean> done = new CompletableFuture<>();
    holder.copier.copy(from, new Region[] {to}, 1,
        (readFailed, writeErrors, cancelled) -> done.complete(!readFailed && writeErrors == 0
            && !cancelled));
    try {
      return done.get();
    } catch (ExecutionException e) {
      return false;
    }
  }

  /** The merge stops for good: "Merge failed", and the writes held for it fail. */
  private void failed(ArrayDeque<IoRequest> held) {
    s.mergeFailed = true;
    for (IoRequest r : held) {
      r.complete(IoStatus.EIO);
    }
    s.raiseEvent();
  }

  @Override
  public String status(StatusType type) {
    return switch (type) {
      case INFO -> s.info(true);
      case TABLE -> args.table(s);
    };
  }
}
