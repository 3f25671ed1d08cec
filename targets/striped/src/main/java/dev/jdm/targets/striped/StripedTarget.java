package dev.jdm.targets.striped;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.util.List;

/**
 * The {@code striped} target (RAID 0): the segment is cut into chunks of {@code chunk_size}
 * sectors, dealt out in turn to the stripes, so chunk {@code c} lies on stripe {@code c % stripes}
 * as that stripe's chunk {@code c / stripes}. Table arguments: {@code <#stripes> <chunk_size>
 * [<dev_path> <offset>]+}. See {@code striped.md}.
 */
public final class StripedTarget implements Target {
  /** The smallest chunk: one 4 KiB page, as the kernel asks. */
  private static final int MIN_CHUNK_SECTORS = 8;
  /** Chunk sizes above this are accepted, but hinted to clients as this many bytes. */
  private static final long MAX_HINT_BYTES = 1 << 30;

  private final int stripeCount;
  private final int chunkShift;
  private final long chunkMask;
  private final BlockDevice[] stripes;
  private final long[] offsets;
  private final List<BlockDevice> devices;
  private final boolean discards;
  private final boolean writeZeroes;
  private final IoLimits limits;

  private StripedTarget(long chunkSectors, BlockDevice[] stripes, long[] offsets) {
    this.stripeCount = stripes.length;
    this.chunkShift = Long.numberOfTrailingZeros(chunkSectors);
    this.chunkMask = chunkSectors - 1;
    this.stripes = stripes;
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
    public Target create(TargetContext context, long lengthInSectors, List<String> args)
        throws TargetException {
      if (args.size() < 2) {
        throw new TargetException("Not enough arguments");
      }
      long count = decimal(args.get(0), Integer.MAX_VALUE);
      if (count < 1) {
        throw new TargetException("Invalid stripe count");
      }
      long chunk = decimal(args.get(1), Integer.MAX_VALUE);
      if (chunk < MIN_CHUNK_SECTORS || Long.bitCount(chunk) != 1) {
        throw new TargetException("Invalid chunk size");
      }
      if (lengthInSectors % count != 0) {
        throw new TargetException("Target length not divisible by number of stripes");
      }
      long width = lengthInSectors / count;
      if (width % chunk != 0) {
        throw new TargetException("Target length not divisible by chunk size");
      }
      if (args.size() != 2 + 2 * count) {
        throw new TargetException("Not enough destinations specified");
      }
      int n = (int) count;
      long[] offsets = new long[n];
      for (int i = 0; i < n; i++) {
        offsets[i] = decimal(args.get(3 + 2 * i), Long.MAX_VALUE);
        if (offsets[i] < 0) {
          throw new TargetException("Couldn't parse stripe destination");
        }
      }
      DeviceMode mode = context.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE;
      BlockDevice[] stripes = new BlockDevice[n];
      for (int i = 0; i < n; i++) {
        stripes[i] = context.openDevice(args.get(2 + 2 * i), mode);
        if (offsets[i] > stripes[i].sizeInSectors() - width) {
          throw new TargetException("Device too small");
        }
      }
      return new StripedTarget(chunk, stripes, offsets);
    }
  }

  /** A plain decimal number up to {@code max}, or -1 when {@code text} is anything else. */
  private static long decimal(String text, long max) {
    if (text.isEmpty() || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return -1;
    }
    try {
      long value = Long.parseLong(text);
      return value <= max ? value : -1;
    } catch (NumberFormatException tooLarge) {
      return -1;
    }
  }

  /** Each request lies inside one chunk, so it goes to one stripe whole. */
  @Override
  public long maxIoSectors() {
    return chunkMask + 1;
  }

  @Override
  public MapResult map(IoRequest request) {
    long sector = request.sector();
    long chunk = sector >>> chunkShift;
    int stripe = (int) (chunk % stripeCount);
    long onStripe = ((chunk / stripeCount) << chunkShift) + (sector & chunkMask);
    request.remap(stripes[stripe], offsets[stripe] + onStripe);
    return MapResult.REMAPPED;
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
      long chunk = at >>> chunkShift;
      long piece = Math.min(end, (chunk + 1) << chunkShift) - at;
      int stripe = (int) (chunk % stripeCount);
      long onStripe = ((chunk / stripeCount) << chunkShift) + (at & chunkMask);
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
        out.append(" 1 ").append("A".repeat(stripeCount));
      }
      case TABLE -> {
        out.append(' ').append(chunkMask + 1);
        for (int i = 0; i < stripeCount; i++) {
          out.append(' ').append(stripes[i].path()).append(' ').append(offsets[i]);
        }
      }
    }
    return out.toString();
  }
}
