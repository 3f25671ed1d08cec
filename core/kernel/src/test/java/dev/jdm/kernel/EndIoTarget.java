package dev.jdm.kernel;

import dev.jdm.spi.Args;
import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
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
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test target {@code endio <primary> <fallback> <xor> <mode>}: stores every byte XORed with
 * {@code xor} on {@code primary} (a data-transforming target, undone in end_io for reads), retries
 * a failed request once on {@code fallback} (end_io INCOMPLETE), and, per {@code mode}, takes
 * FLUSH ({@code flush}), whole ranges ({@code ranges}), requeues failures ({@code requeue}) or
 * completes twice ({@code twice}).
 */
final class EndIoTarget implements Target {
  /** Per-request state: where the request started, and whether it was retried. */
  static final class State implements RequestData {
    long sector = -1;
    boolean retried;

    @Override
    public void reset() {
      sector = -1;
      retried = false;
    }
  }

  final BlockDevice primary;
  final BlockDevice fallback;
  final byte xor;
  final String mode;
  final String args;
  final ConcurrentLinkedQueue<String> seen;
  final AtomicInteger errors = new AtomicInteger();
  final AtomicInteger dirtyData = new AtomicInteger();

  EndIoTarget(BlockDevice primary, BlockDevice fallback, byte xor, String mode, String args,
      ConcurrentLinkedQueue<String> seen) {
    this.primary = primary;
    this.fallback = fallback;
    this.xor = xor;
    this.mode = mode;
    this.args = args;
    this.seen = seen;
  }

  @Override
  public MapResult map(IoRequest r) {
    State s = r.targetData();
    if (s.sector != -1 || s.retried) {
      dirtyData.incrementAndGet();
    }
    s.sector = r.sector();
    if (seen != null) {
      seen.add(r.op() + " " + r.sector() + "+" + r.sectors() + (r.hasFlag(IoRequest.PREFLUSH)
          ? " preflush" : ""));
    }
    if (r.op() == IoOp.WRITE && xor != 0) {
      // Transform in place: the test owns the buffer; a real target would use a bounce buffer.
      for (int i = 0; i < r.bytes(); i++) {
        int at = r.dataOffset() + i;
        r.data().put(at, (byte) (r.data().get(at) ^ xor));
      }
    }
    if (mode.equals("twice") && r.op() == IoOp.READ) {
      r.complete(IoStatus.OK);
      r.complete(IoStatus.OK);
      return MapResult.SUBMITTED;
    }
    r.remap(primary, r.sector());
    return MapResult.REMAPPED;
  }

  @Override
  public EndIoResult endIo(IoRequest r, IoStatus status) {
    State s = r.targetData();
    if (s == null || s.sector != r.sector()) {
      dirtyData.incrementAndGet();
    }
    if (status != IoStatus.OK) {
      errors.incrementAndGet();
      if (mode.equals("requeue")) {
        return EndIoResult.REQUEUE;
      }
      if (!s.retried) {
        s.retried = true;
        r.remap(fallback, r.sector());
        fallback.submit(r);
        return EndIoResult.INCOMPLETE;
      }
      return EndIoResult.DONE;
    }
    if (r.op() == IoOp.READ && xor != 0) {
      for (int i = 0; i < r.bytes(); i++) {
        int at = r.dataOffset() + i;
        r.data().put(at, (byte) (r.data().get(at) ^ xor));
      }
    }
    return EndIoResult.DONE;
  }

  @Override
  public RequestData newRequestData() {
    return new State();
  }

  @Override
  public boolean supports(IoOp op) {
    return switch (op) {
      case READ, WRITE -> true;
      case FLUSH -> mode.equals("flush");
      case DISCARD, WRITE_ZEROES -> mode.equals("ranges");
    };
  }

  @Override
  public boolean takesWholeRanges() {
    return mode.equals("ranges");
  }

  @Override
  public long maxIoSectors() {
    return 8;
  }

  @Override
  public List<BlockDevice> devices() {
    return List.of(primary, fallback);
  }

  @Override
  public String status(StatusType type) {
    return type == StatusType.TABLE ? args : "errors=" + errors.get();
  }

  static final class Type implements TargetType {
    final ConcurrentLinkedQueue<String> seen = new ConcurrentLinkedQueue<>();
    volatile EndIoTarget last;
    private final boolean record;

    Type(boolean record) {
      this.record = record;
    }

    @Override
    public String name() {
      return "endio";
    }

    @Override
    public Set<Feature> features() {
      return Set.of(Feature.END_IO);
    }

    @Override
    public Version version() {
      return Version.of(1, 0, 0);
    }

    @Override
    public String usage() {
      return "<primary> <fallback> <xor> <mode>";
    }

    @Override
    public Target create(TargetContext ctx, long length, List<String> args)
        throws TargetException {
      Args a = new Args(args);
      String p = a.shift("Invalid argument count");
      String f = a.shift("Invalid argument count");
      int xor = a.integer(0, 255, "Invalid xor");
      String mode = a.shift("Invalid argument count");
      a.end("Invalid argument count");
      BlockDevice primary = ctx.openDevice(p, DeviceMode.READ_WRITE);
      BlockDevice fallback = ctx.openDevice(f, DeviceMode.READ_WRITE);
      EndIoTarget t = new EndIoTarget(primary, fallback, (byte) xor, mode, String.join(" ", args),
          record ? seen : null);
      last = t;
      return t;
    }
  }
}
