package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A built table: segments contiguous from sector 0, each with its constructed target. Immutable once
 * built; the data path reads it without locks. Closing it closes every target and releases its
 * devices.
 */
final class Table implements AutoCloseable {
  /** The most sectors a device may have: its size in bytes must fit in a signed 64-bit number. */
  static final long MAX_SECTORS = Long.MAX_VALUE >>> IoRequest.SECTOR_SHIFT;

  final Segment[] segments;
  private final long[] starts;
  final long size;
  final boolean readOnly;
  /** Every distinct device the targets use: the fan-out set for FLUSH. */
  final BlockDevice[] devices;
  final IoLimits limits;
  final boolean discard;
  /** The segments whose targets take FLUSH through map. */
  final Segment[] flushSegments;
  /** The devices of every other segment: the core flushes them itself. */
  final BlockDevice[] flushDevices;
  /** One segment that takes FLUSH: a WRITE's PREFLUSH goes to its map unchanged. */
  final boolean takesPreflush;
  /** The state of a device removed with --force while open: every request fails with EIO. */
  final boolean failing;

  private Table(Segment[] segments, boolean readOnly) {
    this(segments, readOnly, segments.length == 0 ? 0 : segments[segments.length - 1].end(),
        false);
  }

  private Table(Segment[] segments, boolean readOnly, long size, boolean failing) {
    this.segments = segments;
    this.readOnly = readOnly;
    this.failing = failing;
    this.starts = Arrays.stream(segments).mapToLong(s -> s.start).toArray();
    this.size = size;
    Set<BlockDevice> devs = new LinkedHashSet<>();
    Set<BlockDevice> flushDevs = new LinkedHashSet<>();
    List<Segment> flushSegs = new ArrayList<>();
    IoLimits l = IoLimits.DEFAULT;
    boolean d = segments.length > 0;
    for (Segment s : segments) {
      devs.addAll(s.target.devices());
      if (s.flush) {
        flushSegs.add(s);
      } else {
        flushDevs.addAll(s.target.devices());
      }
      l = l.combine(s.target.limits());
      d &= s.discard;
    }
    this.devices = devs.toArray(BlockDevice[]::new);
    this.flushSegments = flushSegs.toArray(Segment[]::new);
    this.flushDevices = flushDevs.toArray(BlockDevice[]::new);
    this.takesPreflush = segments.length == 1 && segments[0].flush;
    this.limits = l;
    this.discard = d;
  }

  /**
   * A table of no targets that fails every request and keeps the device's size: what a device
   * removed with --force has until its last user closes it. The kernel loads an {@code error}
   * table there; jdm's core names no target, so the data path fails the requests itself.
   */
  static Table failing(long size) {
    return new Table(new Segment[0], true, size, true);
  }

  /**
   * Parses and constructs {@code text} for {@code device}. On any error every target built so far
   * is closed and its devices released, and the message names device, target and line.
   */
  static Table build(String device, String text, boolean readOnly, DeviceMapper mapper)
      throws DmException {
    TargetRegistry registry = mapper.registry();
    List<TableLine> lines = TableLine.parseAll(device, text);
    if (lines.isEmpty()) {
      throw new DmException(device + ": table: No targets in table");
    }
    List<Segment> built = new ArrayList<>();
    try {
      long next = 0;
      for (TableLine line : lines) {
        String where = " (line " + line.number() + ")";
        String prefix = device + ": " + line.type() + ": ";
        if (line.length() == 0) {
          throw new DmException(prefix + "zero-length target" + where);
        }
        if (line.start() != next) {
          throw new DmException(prefix + "Gap in table: segment starts at " + line.start()
              + ", previous one ends at " + next + where);
        }
        if (line.length() > MAX_SECTORS - line.start()) {
          throw new DmException(prefix + "Invalid length: the device would be larger than 2^63"
              + " bytes" + where);
        }
        TargetRegistry.Registration reg = registry.lookup(line.type()).orElseThrow(
            () -> new DmException(prefix + "unknown target type" + where));
        TargetType type = reg.type();
        if (type.features().contains(TargetType.Feature.SINGLETON) && lines.size() > 1) {
          throw new DmException(prefix + "target type must appear alone in table" + where);
        }
        if (readOnly && type.features().contains(TargetType.Feature.ALWAYS_WRITEABLE)) {
          throw new DmException(prefix + "target type may not be in a read-only table" + where);
        }
        SegmentContext ctx = mapper.context(device, line.start(), readOnly);
        // Counted before the constructor runs, so the type cannot be unloaded under it.
        reg.users().incrementAndGet();
        try {
          Target target = type.create(ctx, line.length(), line.args());
          if (target == null) {
            throw new TargetException("constructor returned no target");
          }
          built.add(new Segment(line.start(), line.length(), line.type(), reg, target, ctx,
              mapper.poolSize()));
        } catch (TargetException e) {
          reg.users().decrementAndGet();
          ctx.releaseAll();
          throw new DmException(prefix + e.getMessage() + where, e);
        } catch (RuntimeException e) {
          reg.users().decrementAndGet();
          ctx.releaseAll();
          throw new DmException(prefix + "constructor failed: " + e + where, e);
        }
        next = line.start() + line.length();
      }
    } catch (DmException e) {
      closeAll(built);
      throw e;
    }
    return new Table(built.toArray(Segment[]::new), readOnly);
  }

  /** The segment holding {@code sector}, which must be below {@link #size}. */
  Segment at(long sector) {
    int i = Arrays.binarySearch(starts, sector);
    return segments[i >= 0 ? i : -i - 2];
  }

  /** The table as dmsetup prints it: one line per segment. */
  String text(StatusType type) {
    return Arrays.stream(segments).map(s -> s.line(type)).collect(Collectors.joining("\n"));
  }

  /** Whether any target uses {@code device}. */
  boolean uses(BlockDevice device) {
    return Arrays.asList(devices).contains(device);
  }

  @Override
  public void close() {
    closeAll(Arrays.asList(segments));
  }

  private static void closeAll(List<Segment> segs) {
    for (Segment s : segs) {
      try {
        s.target.close();
      } catch (RuntimeException e) {
        org.slf4j.LoggerFactory.getLogger(Table.class)
            .warn("{}: {}: close failed: {}", s.context.deviceName(), s.typeName, e.toString());
      } finally {
        s.context.releaseAll();
        s.registration.users().decrementAndGet();
      }
    }
  }
}
