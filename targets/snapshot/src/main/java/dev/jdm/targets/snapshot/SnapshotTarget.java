package dev.jdm.targets.snapshot;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.EndIoResult;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.RequestData;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.util.List;
import java.util.Set;

/**
 * The {@code snapshot} target: the origin as it was when the snapshot went live. A chunk copied
 * into the COW device (because the origin or the snapshot wrote it since) is read from there, any
 * other from the origin; a write to the snapshot copies its chunk first, unless it covers the whole
 * chunk. Table arguments: {@code <origin> <COW device> <P|PO|N> <chunk_size> [<#feature args>
 * [discard_zeroes_cow] [discard_passdown_origin]]}. See {@code snapshot.md}.
 */
public final class SnapshotTarget implements Target {
  private final SnapshotArgs args;
  private final Origins.Attached attached;
  private final Snapshot s;
  private final Snapshot.Holder holder;

  private SnapshotTarget(SnapshotArgs args, Origins.Attached attached) {
    this.args = args;
    this.attached = attached;
    this.s = attached.snapshot();
    this.holder = attached.holder();
  }

  /** The type registered as {@code snapshot}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "snapshot";
    }

    @Override
    public Version version() {
      return Version.of(1, 16, 0);
    }

    @Override
    public Set<Feature> features() {
      return Set.of(Feature.END_IO);
    }

    @Override
    public String usage() {
      return "<origin> <COW device> <P|PO|N> <chunk_size> [<#feature args> [<arg>]*]";
    }

    @Override
    public Target create(TargetContext context, long lengthInSectors, List<String> args)
        throws TargetException {
      SnapshotArgs a = SnapshotArgs.parse(args);
      return new SnapshotTarget(a, Origins.open(context, lengthInSectors, a, false));
    }
  }

  @Override
  public MapResult map(IoRequest r) {
    Snapshot.Track t = r.targetData();
    long sector = r.sector();
    long chunk = sector >>> s.shift;
    if (r.op() == IoOp.DISCARD) {
      return discard(r, t, chunk);
    }
    boolean write = r.op() == IoOp.WRITE;
    Snapshot.Pending start = null;
    boolean invalidated = false;
    boolean overflowed = false;
    MapResult result;
    synchronized (s.lock) {
      if (!s.valid || s.merging || (write && s.overflowed)) {
        return MapResult.KILL;
      }
      long e = s.complete.get(chunk);
      if (e != ChunkTable.ABSENT) {
        r.remap(s.cow, s.cowSector(e, sector));
        return MapResult.REMAPPED;
      }
      if (!write) {
        // The old data is still on the origin: an origin write of it waits for this read.
        s.track(chunk);
        t.chunk = chunk;
        r.remap(s.origin, sector);
        return MapResult.REMAPPED;
      }
      Snapshot.Pending pe = s.pendingOf(chunk);
      if (pe == null) {
        pe = s.newPending(chunk);
      }
      if (pe == null) {
        if (holder.overflow) {
          overflowed = !s.overflowed;
          s.overflowed = true;
        } else {
          invalidated = s.invalidate();
        }
        result = MapResult.KILL;
      } else {
        r.remap(s.cow, s.cowSector(pe.newChunk, sector));
        if (!pe.started && r.sectors() == s.chunkSize) {
          // The write replaces the whole chunk: it is the copy.
          pe.started = true;
          pe.full = r;
          t.full = pe;
          return MapResult.REMAPPED;
        }
        pe.snapshotWrites.add(r);
        if (!pe.started) {
          pe.started = true;
          start = pe;
        }
        result = MapResult.SUBMITTED;
      }
    }
    if (invalidated) {
      s.dropped();
    } else if (overflowed) {
      s.raiseEvent();
    }
    if (start != null) {
      s.startCopy(start);
    }
    return result;
  }

  /**
   * With {@code discard_zeroes_cow}: a discard of a whole copied chunk zeroes it in the COW device,
   * of part of one is passed to the COW device, of an uncopied chunk does nothing; with
   * {@code discard_passdown_origin} the origin device is discarded as well, bypassing the
   * snapshot-origin (so no chunk is copied for it). The core cuts discards at chunk boundaries.
   */
  private MapResult discard(IoRequest r, Snapshot.Track t, long chunk) {
    long e;
    synchronized (s.lock) {
      if (!s.valid || s.merging) {
        return MapResult.KILL;
      }
      e = s.complete.get(chunk);
    }
    t.start(r);
    if (e != ChunkTable.ABSENT) {
      t.cow[0].set(s.cow, s.cowSector(e, r.sector()), r.sectors());
      if (r.sectors() == s.chunkSize) {
        t.part();
        holder.copier.zero(t.cow, 1, t);
      } else if (s.cow.supports(IoOp.DISCARD)) {
        t.part();
        holder.context.io().submit(IoOp.DISCARD, 0, t.cow, 1, null, 0, t);
      }
    }
    if (args.discardPassdownOrigin() && s.origin.supports(IoOp.DISCARD)) {
      t.origin[0].set(s.origin, r.sector(), r.sectors());
      t.part();
      holder.context.io().submit(IoOp.DISCARD, 0, t.origin, 1, null, 0, t);
    }
    t.done(0, IoStatus.OK);
    return MapResult.SUBMITTED;
  }

  @Override
  public EndIoResult endIo(IoRequest r, IoStatus status) {
    Snapshot.Track t = r.targetData();
    Snapshot.Pending full = t.full;
    if (full != null) {
      t.full = null;
      s.copied(full, !status.ok());
      return EndIoResult.INCOMPLETE; // completed once the exception is committed
    }
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

  @Override
  public void resume() {
    s.active = true;
  }

  @Override
  public String status(StatusType type) {
    return switch (type) {
      case INFO -> s.info(false);
      case TABLE -> args.table(s);
    };
  }

  @Override
  public void close() {
    s.origins.detach(attached);
  }
}
