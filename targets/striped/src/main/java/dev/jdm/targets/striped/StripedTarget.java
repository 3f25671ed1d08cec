package dev.jdm.targets.striped;

import dev.jdm.spi.Args;
import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.EndIoResult;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The {@code striped} target (RAID 0): the segment is cut into chunks of {@code chunk_size}
 * sectors, dealt out in turn to the stripes, so chunk {@code c} lies on stripe {@code c % stripes}
 * as that stripe's chunk {@code c / stripes}. Table arguments: {@code <#stripes> <chunk_size>
 * [<dev_path> <offset>]+}. See {@code striped.md}.
 */
public final class StripedTarget implements Target {
  /** Chunk sizes above this are accepted, but hinted to clients as this many bytes. */
  private static final long MAX_HINT_BYTES = 1 << 30;
  /** Errors on one stripe past which the kernel raises an event. */
  private static final int ERROR_THRESHOLD = 15;

  private final int stripeCount;
  private final long chunkSectors;
  private final BlockDevice[] stripes;
  private final AtomicIntegerArray errors;
  private final TargetContext context;
  private final long[] offsets;
  private final List<BlockDevice> devices;
  private final boolean discards;
  private final boolean writeZeroes;
  private final IoLimits limits;

  private StripedTarget(TargetContext context, long chunkSectors, BlockDevice[] stripes,
      long[] offsets) {
    this.context = context;
    this.stripeCount = stripes.length;
    this.chunkSectors = chunkSectors;
    this.stripes = stripes;
    this.errors = new AtomicIntegerArray(stripes.length);
    this.offsets = offsets;
    this.devices = List.of(stripes);
    this.discards = devices.stream().allMatch(d -> d.supports(IoOp.DISCARD));
    this.writeZeroes = devices.stream().allMatch(d -> d.supports(IoOp.WRITE_ZEROES));
    int logical = devices.stream().mapToInt(d -> d.limits().logicalBlockSize()).max().orElseThrow();
    long chunkBytes = chunkSectors << IoRequest.SECTOR_SHIFT;
    long fullStripe = chunkBytes * stripeCount;
    this.limits =
        new IoLimits(
            logical,
            (int) Math.max(logical, Math.min(chunkBytes, MAX_HINT_BYTES)),
            fullStripe <= Integer.MAX_VALUE ? (int) fullStripe : 0);
  }

  /** The type registered as {@code striped}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "striped";
    }

    @Override
    public Version version() {
      return Version.of(1, 6, 0);
    }

    @Override
    public String usage() {
      return "<#stripes> <chunk_size> [<dev_path> <offset>]+";
    }

    @Override
    public Set<Feature> features() {
      return Set.of(Feature.END_IO);
    }

    @Override
    public Target create(TargetContext context, long lengthInSectors, List<String> args)
        throws TargetException {
      if (args.size() < 2) {
        throw new TargetException("Not enough arguments");
      }
      Args a = new Args(args);
      int n = a.integer(1, Integer.MAX_VALUE, "Invalid stripe count");
      long chunk = a.number(1, Integer.MAX_VALUE, "Invalid chunk_size");
      if (lengthInSectors % n != 0) {
        throw new TargetException("Target length not divisible by number of stripes");
      }
      long width = lengthInSectors / n;
      if (width % chunk != 0) {
        throw new TargetException("Target length not divisible by chunk size");
      }
      if (a.remaining() != 2L * n) {
        throw new TargetException("Not enough destinations specified");
      }
      String[] paths = new String[n];
      long[] offsets = new long[n];
      for (int i = 0; i < n; i++) {
        paths[i] = a.shift("Not enough destinations specified");
        offsets[i] = a.number(0, Long.MAX_VALUE, "Couldn't parse stripe destination");
      }
      DeviceMode mode = context.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE;
      BlockDevice[] stripes = new BlockDevice[n];
      for (int i = 0; i < n; i++) {
        stripes[i] = context.openDevice(paths[i], mode);
        if (offsets[i] > stripes[i].sizeInSectors() - width) {
          throw new TargetException("Device too small");
        }
      }
      return new StripedTarget(context, chunk, stripes, offsets);
    }
  }

  /** Each request lies inside one chunk, so it goes to one stripe whole. */
  @Override
  public long maxIoSectors() {
    return chunkSectors;
  }

  @Override
  public MapResult map(IoRequest request) {
    long sector = request.sector();
    long chunk = sector / chunkSectors;
    int stripe = (int) (chunk % stripeCount);
    long onStripe = (chunk / stripeCount) * chunkSectors + (sector - chunk * chunkSectors);
    request.remap(stripes[stripe], offsets[stripe] + onStripe);
    return MapResult.REMAPPED;
  }

  /** Counts failures per stripe: a stripe that failed shows {@code D} in the status. */
  @Override
  public EndIoResult endIo(IoRequest request, IoStatus status) {
    if (status != IoStatus.OK && status != IoStatus.EOPNOTSUPP) {
      BlockDevice d = request.device();
      for (int i = 0; i < stripeCount; i++) {
        if (stripes[i] == d && errors.incrementAndGet(i) == ERROR_THRESHOLD + 1) {
          context.raiseEvent();
        }
      }
    }
    return EndIoResult.DONE;
  }

  @Override
  public boolean supports(IoOp op) {
    return switch (op) {
      case READ, WRITE -> true;
      case DISCARD -> discards;
      case WRITE_ZEROES -> writeZeroes;
      case FLUSH -> false;
    };
  }

  @Override
  public List<BlockDevice> devices() {
    return devices;
  }

  @Override
  public IoLimits limits() {
    return limits;
  }

  /**
   * Asks each stripe about the chunks it holds, in segment order, and joins neighbouring extents
   * that have the same flags, so that a fully allocated device reads as one extent.
   */
  @Override
  public void blockStatus(long sector, long sectors, ExtentSink sink) {
    Extents extents = new Extents(sink);
    long end = sector + sectors;
    for (long at = sector; at < end && !extents.stopped; ) {
      long chunk = at / chunkSectors;
      long piece = Math.min(end, (chunk + 1) * chunkSectors) - at;
      int stripe = (int) (chunk % stripeCount);
      long onStripe = (chunk / stripeCount) * chunkSectors + (at - chunk * chunkSectors);
      extents.expect(piece);
      stripes[stripe].blockStatus(offsets[stripe] + onStripe, piece, extents);
      extents.endPiece();
      at += piece;
    }
    extents.flush();
  }

  /** Joins the extents of consecutive pieces and passes them on in order. */
  private static final class Extents implements ExtentSink {
    private final ExtentSink sink;
    private long pendingSectors;
    private int pendingFlags;
    private long expected;
    boolean stopped;

    Extents(ExtentSink sink) {
      this.sink = sink;
    }

    void expect(long sectors) {
      expected = sectors;
    }

    @Override
    public boolean extent(long sectors, int flags) {
      long n = Math.min(sectors, expected);
      if (stopped || n <= 0) {
        return false;
      }
      expected -= n;
      if (pendingSectors > 0 && flags != pendingFlags) {
        flush();
        if (stopped) {
          return false;
        }
      }
      pendingFlags = flags;
      pendingSectors += n;
      return expected > 0;
    }

    /** A device that stops short leaves the rest of its piece described as plain data. */
    void endPiece() {
      if (expected > 0) {
        extent(expected, 0);
      }
    }

    void flush() {
      if (pendingSectors > 0 && !stopped) {
        stopped = !sink.extent(pendingSectors, pendingFlags);
      }
      pendingSectors = 0;
    }
  }

  @Override
  public String status(StatusType type) {
    StringBuilder out = new StringBuilder().append(stripeCount);
    switch (type) {
      case INFO -> {
        for (BlockDevice stripe : stripes) {
          out.append(' ').append(stripe.path());
        }
        out.append(" 1 ");
        for (int i = 0; i < stripeCount; i++) {
          out.append(errors.get(i) > 0 ? 'D' : 'A');
        }
      }
      case TABLE -> {
        out.append(' ').append(chunkSectors);
        for (int i = 0; i < stripeCount; i++) {
          out.append(' ').append(stripes[i].path()).append(' ').append(offsets[i]);
        }
      }
    }
    return out.toString();
  }
}
