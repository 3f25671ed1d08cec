package dev.jdm.targets.flakey;

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
import dev.jdm.spi.RequestData;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The {@code flakey} target: linear for {@code <up interval>} seconds from the table's load, then
 * unreliable for {@code <down interval>} seconds, and again. While down it fails reads and writes,
 * or drops writes, or corrupts a byte of matching requests, as its features say. Table arguments:
 * {@code <dev_path> <offset> <up interval> <down interval> [<#features> <feature>...]}. See
 * {@code flakey.md}.
 */
public final class FlakeyTarget implements Target {
  private static final long UINT_MAX = 0xffff_ffffL;
  /** Probabilities of random corruption are out of this. */
  private static final long PROBABILITY_BASE = 1_000_000_000L;
  /** The block layer's request flags that {@code corrupt_bio_byte <flags>} can name. */
  private static final int REQ_OP_WRITE = 1;
  private static final int REQ_OP_DISCARD = 3;
  private static final int REQ_OP_WRITE_ZEROES = 9;
  private static final int REQ_FUA = 1 << 17;
  private static final int REQ_PREFLUSH = 1 << 18;

  private final BlockDevice device;
  private final long offset;
  private final long up;
  private final long down;
  private final Features features;
  private final long startNanos;
  private final List<BlockDevice> devices;

  /** What the table asked for, parsed once. */
  private record Features(boolean errorReads, boolean dropWrites, boolean errorWrites,
      long corruptByte, boolean corruptWrites, int corruptValue, long corruptFlags,
      long randomReadCorrupt, long randomWriteCorrupt) {}

  private FlakeyTarget(BlockDevice device, long offset, long up, long down, Features features) {
    this.device = device;
    this.offset = offset;
    this.up = up;
    this.down = down;
    this.features = features;
    this.startNanos = System.nanoTime();
    this.devices = List.of(device);
  }

  /** The type registered as {@code flakey}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "flakey";
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
      return "<dev_path> <offset> <up interval> <down interval> [<#features> <feature>...]";
    }

    @Override
    public Target create(TargetContext context, long lengthInSectors, List<String> args)
        throws TargetException {
      if (args.size() < 4) {
        throw new TargetException("Invalid argument count");
      }
      Args a = new Args(args);
      String path = a.shift("Invalid argument count");
      long offset = a.number(0, Long.MAX_VALUE, "Invalid device sector");
      long up = a.number(0, UINT_MAX, "Invalid up interval");
      long down = a.number(0, UINT_MAX, "Invalid down interval");
      if (up + down == 0) {
        throw new TargetException("Total (up + down) interval is zero");
      }
      if (up + down > UINT_MAX) {
        throw new TargetException("Interval overflow");
      }
      // Words after the features are ignored, as the kernel ignores them.
      Features features = parseFeatures(a);
      DeviceMode mode = context.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE;
      BlockDevice device = context.openDevice(path, mode);
      if (offset > device.sizeInSectors() - lengthInSectors) {
        throw new TargetException("Device too small");
      }
      return new FlakeyTarget(device, offset, up, down, features);
    }
  }

  private static Features parseFeatures(Args a) throws TargetException {
    List<String> group = a.remaining() == 0 ? List.of()
        : a.group(0, 11, "Invalid number of feature args");
    boolean errorReads = false;
    boolean dropWrites = false;
    boolean errorWrites = false;
    long corruptByte = 0;
    boolean corruptWrites = false;
    int corruptValue = 0;
    long corruptFlags = 0;
    long randomRead = 0;
    long randomWrite = 0;
    Args f = new Args(group);
    while (f.remaining() > 0) {
      String name = f.shift("Insufficient feature arguments");
      switch (name.toLowerCase(Locale.ROOT)) {
        case "error_reads" -> {
          if (errorReads) {
            throw new TargetException("Feature error_reads duplicated");
          }
          errorReads = true;
        }
        case "drop_writes" -> {
          writeFeature("drop_writes", dropWrites, errorWrites, "error_writes");
          dropWrites = true;
        }
        case "error_writes" -> {
          writeFeature("error_writes", errorWrites, dropWrites, "drop_writes");
          errorWrites = true;
        }
        case "corrupt_bio_byte" -> {
          if (corruptByte != 0) {
            throw new TargetException("Feature corrupt_bio_byte duplicated");
          }
          if (f.remaining() < 4) {
            throw new TargetException("Feature corrupt_bio_byte requires 4 parameters");
          }
          corruptByte = f.number(1, UINT_MAX, "Invalid corrupt bio byte");
          String direction = f.shift("Invalid corrupt bio direction (r or w)");
          if (direction.equalsIgnoreCase("w")) {
            corruptWrites = true;
          } else if (!direction.equalsIgnoreCase("r")) {
            throw new TargetException("Invalid corrupt bio direction (r or w)");
          }
          corruptValue = f.integer(0, 255, "Invalid corrupt value to write into bio byte (0-255)");
          corruptFlags = f.number(0, UINT_MAX, "Invalid corrupt bio flags mask");
        }
        case "random_read_corrupt" -> randomRead = probability(f, "random_read_corrupt", randomRead);
        case "random_write_corrupt" ->
            randomWrite = probability(f, "random_write_corrupt", randomWrite);
        default -> throw new TargetException("Unrecognised flakey feature requested");
      }
    }
    boolean fixedWrites = corruptByte != 0 && corruptWrites;
    boolean fixedReads = corruptByte != 0 && !corruptWrites;
    if (dropWrites && (fixedWrites || randomWrite != 0)) {
      throw new TargetException("drop_writes is incompatible with random_write_corrupt or"
          + " corrupt_bio_byte with the WRITE flag set");
    }
    if (errorWrites && (fixedWrites || randomWrite != 0)) {
      throw new TargetException("error_writes is incompatible with random_write_corrupt or"
          + " corrupt_bio_byte with the WRITE flag set");
    }
    if (errorReads && (fixedReads || randomRead != 0)) {
      throw new TargetException("error_reads is incompatible with random_read_corrupt or"
          + " corrupt_bio_byte with the READ flag set");
    }
    if (!errorReads && !dropWrites && !errorWrites && corruptByte == 0 && randomRead == 0
        && randomWrite == 0) {
      // No feature: while down, every request fails.
      errorReads = true;
      errorWrites = true;
    }
    return new Features(errorReads, dropWrites, errorWrites, corruptByte, corruptWrites,
        corruptValue, corruptFlags, randomRead, randomWrite);
  }

  /** Refuses a write feature given twice, or with the other one. */
  private static void writeFeature(String name, boolean given, boolean other, String otherName)
      throws TargetException {
    if (given) {
      throw new TargetException("Feature " + name + " duplicated");
    }
    if (other) {
      throw new TargetException("Feature " + name + " conflicts with feature " + otherName);
    }
  }

  /** The probability after a random corruption feature, which may be given once. */
  private static long probability(Args f, String name, long given) throws TargetException {
    if (given != 0) {
      throw new TargetException("Feature " + name + " duplicated");
    }
    if (f.remaining() == 0) {
      throw new TargetException("Feature " + name + " requires a parameter");
    }
    return f.number(0, PROBABILITY_BASE, "Invalid random corrupt argument");
  }

  /** Whether the request was mapped while down, for end_io: the kernel's per-bio data. */
  private static final class Mapped implements RequestData {
    boolean down;

    @Override
    public void reset() {
      down = false;
    }
  }

  @Override
  public RequestData newRequestData() {
    return new Mapped();
  }

  /** Whether the device is in a down interval now, in whole seconds since the table was made. */
  private boolean down() {
    long elapsed = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - startNanos);
    return elapsed % (up + down) >= up;
  }

  @Override
  public MapResult map(IoRequest request) {
    if (down()) {
      Features f = features;
      if (request.op() == IoOp.READ) {
        if (f.errorReads()) {
          return MapResult.KILL;
        }
        request.<Mapped>targetData().down = true;
      } else {
        // Every other op writes, FLUSH included, as in the kernel.
        if (f.dropWrites()) {
          request.complete(IoStatus.OK);
          return MapResult.SUBMITTED;
        }
        if (f.errorWrites()) {
          return MapResult.KILL;
        }
        if (request.op() == IoOp.WRITE) {
          boolean fixed = f.corruptByte() != 0 && f.corruptWrites() && flagsMatch(request);
          boolean random = f.randomWriteCorrupt() != 0 && chance(f.randomWriteCorrupt());
          if (fixed || random) {
            writeCorrupted(request, fixed, random);
            return MapResult.SUBMITTED;
          }
        }
      }
    }
    request.remap(device, request.op() == IoOp.FLUSH ? 0 : offset + request.sector());
    return MapResult.REMAPPED;
  }

  /**
   * Writes a corrupted copy of the request's data, leaving the caller's buffer alone, and ends the
   * request as the copy ends: the kernel's {@code clone_bio}.
   */
  private void writeCorrupted(IoRequest request, boolean fixed, boolean random) {
    int bytes = request.bytes();
    ByteBuffer copy = ByteBuffer.allocate(bytes);
    copy.put(0, request.data(), request.dataOffset(), bytes);
    if (fixed) {
      corrupt(copy, 0, bytes, features.corruptByte() - 1, (byte) features.corruptValue());
    }
    if (random) {
      corruptRandom(copy, 0, bytes);
    }
    IoRequest clone = new IoRequest().prepare(IoOp.WRITE, request.flags(),
        offset + request.sector(), bytes, copy, 0, done -> request.complete(done.status()));
    device.submit(clone);
  }

  @Override
  public EndIoResult endIo(IoRequest request, IoStatus status) {
    Mapped m = request.targetData();
    if (status == IoStatus.OK && m.down && request.op() == IoOp.READ) {
      Features f = features;
      if (f.corruptByte() != 0 && !f.corruptWrites() && flagsMatch(request)) {
        corrupt(request.data(), request.dataOffset(), request.bytes(), f.corruptByte() - 1,
            (byte) f.corruptValue());
      }
      if (f.randomReadCorrupt() != 0 && chance(f.randomReadCorrupt())) {
        corruptRandom(request.data(), request.dataOffset(), request.bytes());
      }
    }
    return EndIoResult.DONE;
  }

  /** Whether the request has every flag of {@code corrupt_bio_byte}'s mask, as a bio's bi_opf. */
  private boolean flagsMatch(IoRequest request) {
    long opf = switch (request.op()) {
      case READ -> 0;
      case WRITE, FLUSH -> REQ_OP_WRITE;
      case DISCARD -> REQ_OP_DISCARD;
      case WRITE_ZEROES -> REQ_OP_WRITE_ZEROES;
    };
    if (request.hasFlag(IoRequest.FUA)) {
      opf |= REQ_FUA;
    }
    if (request.hasFlag(IoRequest.PREFLUSH) || request.op() == IoOp.FLUSH) {
      opf |= REQ_PREFLUSH;
    }
    long mask = features.corruptFlags();
    return (opf & mask) == mask;
  }

  private static boolean chance(long probability) {
    return ThreadLocalRandom.current().nextLong(PROBABILITY_BASE) < probability;
  }

  /** Sets byte {@code index} of the data to {@code value}, when the data is that long. */
  private static void corrupt(ByteBuffer data, int from, int bytes, long index, byte value) {
    if (index < bytes) {
      data.put(from + (int) index, value);
    }
  }

  private static void corruptRandom(ByteBuffer data, int from, int bytes) {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    corrupt(data, from, bytes, r.nextInt(bytes), (byte) r.nextInt(256));
  }

  @Override
  public boolean supports(IoOp op) {
    return switch (op) {
      case READ, WRITE, FLUSH -> true;
      case DISCARD -> device.supports(IoOp.DISCARD);
      case WRITE_ZEROES -> false;
    };
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
  public void blockStatus(long sector, long sectors, ExtentSink sink) {
    device.blockStatus(offset + sector, sectors, sink);
  }

  @Override
  public String status(StatusType type) {
    if (type == StatusType.INFO) {
      return "";
    }
    Features f = features;
    StringBuilder out = new StringBuilder()
        .append(device.path()).append(' ').append(offset).append(' ').append(up).append(' ')
        .append(down);
    int words = (f.errorReads() ? 1 : 0) + (f.dropWrites() ? 1 : 0) + (f.errorWrites() ? 1 : 0)
        + (f.corruptByte() != 0 ? 5 : 0) + (f.randomReadCorrupt() != 0 ? 2 : 0)
        + (f.randomWriteCorrupt() != 0 ? 2 : 0);
    out.append(' ').append(words);
    if (f.errorReads()) {
      out.append(" error_reads");
    }
    if (f.dropWrites()) {
      out.append(" drop_writes");
    } else if (f.errorWrites()) {
      out.append(" error_writes");
    }
    if (f.corruptByte() != 0) {
      out.append(" corrupt_bio_byte ").append(f.corruptByte())
          .append(f.corruptWrites() ? " w " : " r ").append(f.corruptValue()).append(' ')
          .append(f.corruptFlags());
    }
    if (f.randomReadCorrupt() != 0) {
      out.append(" random_read_corrupt ").append(f.randomReadCorrupt());
    }
    if (f.randomWriteCorrupt() != 0) {
      out.append(" random_write_corrupt ").append(f.randomWriteCorrupt());
    }
    return out.toString();
  }
}
