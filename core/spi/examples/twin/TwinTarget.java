package org.example.twin;

import dev.jdm.spi.Args;
import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.CopyJob;
import dev.jdm.spi.Copier;
import dev.jdm.spi.DeviceIo;
import dev.jdm.spi.DeviceMode;
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
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A two-leg mirror in the spirit of dm-raid1, built on the core's services: writes go to both legs
 * through dm-io and end when both did; reads come from leg 0 while leg 1 is being resynced, then
 * from either; the copier brings leg 1 up to date when the table goes live; a failing leg is dropped
 * with an event and I/O goes on with the other. Writes that arrive during the resync wait for it
 * (a real mirror locks regions instead). Arguments: {@code <leg0> <leg1>}.
 * Status: {@code <A|D><A|D> <resynced>/<sectors>}.
 */
public final class TwinTarget implements Target {
  /** Per-request: the two regions a write goes to, and how dm-io ends it. */
  final class Write implements RequestData, DeviceIo.Done {
    final Region[] legs = {new Region(), new Region()};
    IoRequest request;

    @Override
    public void reset() {
      request = null;
    }

    @Override
    public void done(long errorMask, IoStatus firstError) {
      IoRequest r = request;
      for (int i = 0; i < 2; i++) {
        if ((errorMask & (1L << i)) != 0) {
          fail(i);
        }
      }
      // The write stands if one healthy leg took it.
      boolean stored = ((errorMask & 1) == 0 && !failed[0]) || ((errorMask & 2) == 0 && !failed[1]);
      r.complete(stored ? IoStatus.OK : firstError == IoStatus.OK ? IoStatus.EIO : firstError);
    }
  }

  private final TargetContext context;
  private final BlockDevice[] legs;
  private final long sectors;
  private final DeviceIo io;
  private final Copier copier;
  private final List<BlockDevice> devices;
  private final boolean[] failed = new boolean[2];
  private final AtomicLong reads = new AtomicLong();
  private final ConcurrentLinkedQueue<IoRequest> waiting = new ConcurrentLinkedQueue<>();
  private volatile boolean resyncing;
  private volatile CopyJob resync;

  private TwinTarget(TargetContext context, BlockDevice leg0, BlockDevice leg1, long sectors) {
    this.context = context;
    this.legs = new BlockDevice[] {leg0, leg1};
    this.sectors = sectors;
    this.io = context.io();
    this.copier = context.copier();
    this.devices = List.of(leg0, leg1);
  }

  /** The type, found by ServiceLoader. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "twin";
    }

    @Override
    public Version version() {
      return Version.of(1, 0, 0);
    }

    @Override
    public String usage() {
      return "<leg0> <leg1>";
    }

    @Override
    public Target create(TargetContext context, long length, List<String> args)
        throws TargetException {
      Args a = new Args(args);
      String p0 = a.shift("Invalid argument count");
      String p1 = a.shift("Invalid argument count");
      a.end("Invalid argument count");
      BlockDevice l0 = context.openDevice(p0, DeviceMode.READ_WRITE);
      BlockDevice l1 = context.openDevice(p1, DeviceMode.READ_WRITE);
      if (l0.sizeInSectors() < length || l1.sizeInSectors() < length) {
        throw new TargetException("Device too small");
      }
      return new TwinTarget(context, l0, l1, length);
    }
  }

  @Override
  public MapResult map(IoRequest r) {
    if (r.op() == IoOp.READ) {
      // Round robin over healthy legs; leg 1 only once it is in sync.
      int leg = failed[0] || (!resyncing && !failed[1] && (reads.getAndIncrement() & 1) == 1)
          ? 1 : 0;
      r.remap(legs[leg], r.sector());
      return MapResult.REMAPPED;
    }
    if (resyncing) {
      waiting.add(r);
      if (resyncing || !waiting.remove(r)) {
        return MapResult.SUBMITTED; // sent when the resync ends
      }
    }
    write(r);
    return MapResult.SUBMITTED;
  }

  private void write(IoRequest r) {
    Write w = r.targetData();
    w.request = r;
    w.legs[0].set(legs[0], r.sector(), r.sectors());
    w.legs[1].set(legs[1], r.sector(), r.sectors());
    io.submit(r.op(), r.flags(), w.legs, 2, r.data(), r.dataOffset(), w);
  }

  private synchronized void fail(int leg) {
    if (!failed[leg]) {
      failed[leg] = true;
      context.raiseEvent();
    }
  }

  /** Each time the table goes live, leg 1 is copied from leg 0. */
  @Override
  public void resume() {
    if (resync != null || failed[0] || failed[1]) {
      return;
    }
    resyncing = true;
    Region from = new Region(legs[0], 0, sectors);
    Region[] to = {new Region(legs[1], 0, sectors)};
    resync = copier.copy(from, to, 1, (readFailed, writeErrors, cancelled) -> {
      if (readFailed) {
        fail(0);
      } else if (writeErrors != 0) {
        fail(1);
      }
      if (cancelled) {
        resync = null; // the next resume starts over
      } else {
        context.raiseEvent();
      }
      resyncing = false;
      for (IoRequest r; (r = waiting.poll()) != null; ) {
        write(r);
      }
    });
  }

  @Override
  public void presuspend() {
    CopyJob job = resync;
    if (job != null && !job.finished()) {
      job.cancel();
    }
  }

  @Override
  public RequestData newRequestData() {
    return new Write();
  }

  @Override
  public boolean supports(IoOp op) {
    return op == IoOp.READ || op == IoOp.WRITE;
  }

  @Override
  public List<BlockDevice> devices() {
    return devices;
  }

  @Override
  public String status(StatusType type) {
    if (type == StatusType.TABLE) {
      return legs[0].path() + " " + legs[1].path();
    }
    CopyJob job = resync;
    long done = job == null ? 0 : job.sectorsDone();
    return (failed[0] ? "D" : "A") + (failed[1] ? "D" : "A") + " " + done + "/" + sectors;
  }
}
