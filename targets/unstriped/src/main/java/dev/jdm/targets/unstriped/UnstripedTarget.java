package dev.jdm.targets.unstriped;

import dev.jdm.spi.Args;
import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.IoLimits;
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
 * The {@code unstriped} target: one member of a RAID 0 seen through the striped device. Sector
 * {@code s} of the segment is sector {@code s % chunk} of the member's chunk {@code s / chunk},
 * which lies on the striped device at row {@code s / chunk}, column {@code stripe}. Table arguments:
 * {@code <#stripes> <chunk_size> <stripe_#> <dev_path> <offset>}. See {@code unstriped.md}.
 */
public final class UnstripedTarget implements Target {
  private static final long UINT_MAX = 0xffff_ffffL;

  private final long stripes;
  private final long chunk;
  private final long stripe;
  private final BlockDevice device;
  private final long offset;
  private final int chunkShift;
  /** Sectors to skip per row: the other stripes' chunks. */
  private final long rowSkip;
  /** Where this stripe's chunk starts in each row. */
  private final long column;
  private final List<BlockDevice> devices;

  private UnstripedTarget(long stripes, long chunk, long stripe, BlockDevice device, long offset) {
    this.stripes = stripes;
    this.chunk = chunk;
    this.stripe = stripe;
    this.device = device;
    this.offset = offset;
    this.chunkShift = Long.numberOfTrailingZeros(chunk);
    this.rowSkip = (stripes - 1) * chunk;
    this.column = stripe * chunk;
    this.devices = List.of(device);
  }

  /** The type registered as {@code unstriped}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "unstriped";
    }

    @Override
    public Version version() {
      return Version.of(1, 0, 0);
    }

    @Override
    public String usage() {
      return "<#stripes> <chunk_size> <stripe_#> <dev_path> <offset>";
    }

    @Override
    public Target create(TargetContext context, long lengthInSectors, List<String> args)
        throws TargetException {
      if (args.size() != 5) {
        throw new TargetException("Invalid number of arguments");
      }
      Args a = new Args(args);
      long stripes = a.number(1, UINT_MAX, "Invalid stripe count");
      long chunk = a.number(1, UINT_MAX, "Invalid chunk_size");
      if (Long.bitCount(chunk) != 1) {
        throw new TargetException("Non power of 2 chunk_size is not supported yet");
      }
      long stripe = a.number(0, UINT_MAX, "Invalid stripe number");
      // The kernel's own bound: stripe == #stripes slips through, and so it does here.
      if (stripe > stripes && stripes > 1) {
        throw new TargetException("Please provide stripe between [0, # of stripes]");
      }
      String path = a.shift("Invalid number of arguments");
      long offset = a.number(0, Long.MAX_VALUE, "Invalid striped device offset");
      // The kernel asks for a multiple of <#stripes> whole chunks, as if the length were the
      // striped device's, and so refuses its own document's examples; whole chunks of the one
      // member are what the mapping needs. Every length the kernel takes is taken here too.
      if (lengthInSectors % chunk != 0) {
        throw new TargetException("Target length not divisible by chunk size");
      }
      DeviceMode mode = context.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE;
      BlockDevice device;
      try {
        device = context.openDevice(path, mode);
      } catch (TargetException e) {
        throw new TargetException("Couldn't get striped device", e);
      }
      UnstripedTarget t = new UnstripedTarget(stripes, chunk, stripe, device, offset);
      if (!t.fits(lengthInSectors)) {
        throw new TargetException("Device too small");
      }
      return t;
    }
  }

  /** Whether the last sector of a segment of {@code length} sectors maps inside the device. */
  private boolean fits(long length) {
    try {
      long last = length - 1;
      long end = Math.addExact(Math.addExact(offset, onDevice(last)), 1);
      return end <= device.sizeInSectors();
    } catch (ArithmeticException tooFar) {
      return false;
    }
  }

  /** The striped device's sector (before the offset) holding segment sector {@code s}. */
  private long onDevice(long s) {
    return Math.addExact(Math.addExact(s, Math.multiplyExact(rowSkip, s >>> chunkShift)), column);
  }

  /** Each request lies inside one chunk, so it maps to one contiguous range. */
  @Override
  public long maxIoSectors() {
    return chunk;
  }

  @Override
  public MapResult map(IoRequest request) {
    long s = request.sector();
    request.remap(device, offset + s + rowSkip * (s >>> chunkShift) + column);
    return MapResult.REMAPPED;
  }

  @Override
  public List<BlockDevice> devices() {
    return devices;
  }

  @Override
  public IoLimits limits() {
    return device.limits();
  }

  @Override
  public String status(StatusType type) {
    return switch (type) {
      case INFO -> "";
      case TABLE -> stripes + " " + chunk + " " + stripe + " " + device.path() + " " + offset;
    };
  }
}
