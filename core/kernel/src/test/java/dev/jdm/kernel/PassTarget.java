package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

/** Test target {@code pass <dev> <offset> <maxio>}: a linear map that records every request it sees. */
record PassTarget(BlockDevice dev, long offset, long maxIo, String args,
    ConcurrentLinkedQueue<String> seen) implements Target {

  @Override
  public MapResult map(IoRequest r) {
    if (seen != null) {
      seen.add(r.sector() + "+" + r.sectors());
    }
    r.remap(dev, offset + r.sector());
    return MapResult.REMAPPED;
  }

  @Override
  public void blockStatus(long sector, long sectors, dev.jdm.spi.ExtentSink sink) {
    dev.blockStatus(offset + sector, sectors, sink);
  }

  @Override
  public long maxIoSectors() {
    return maxIo;
  }

  @Override
  public List<BlockDevice> devices() {
    return List.of(dev);
  }

  @Override
  public String status(StatusType type) {
    return type == StatusType.TABLE ? args : "";
  }

  static final class Type implements TargetType {
    final ConcurrentLinkedQueue<String> seen;
    private final String name;
    private final Set<Feature> features;

    Type() {
      this("pass", Set.of());
    }

    Type(String name, Set<Feature> features) {
      this(name, features, new ConcurrentLinkedQueue<>());
    }

    /** A type whose targets record nothing (seen == null), for allocation counts. */
    Type(String name, Set<Feature> features, ConcurrentLinkedQueue<String> seen) {
      this.name = name;
      this.features = features;
      this.seen = seen;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public Set<Feature> features() {
      return features;
    }

    @Override
    public Version version() {
      return Version.of(1, 0, 0);
    }

    @Override
    public String usage() {
      return "<dev_path> <offset> <max_io>";
    }

    @Override
    public Target create(TargetContext ctx, long length, List<String> args)
        throws TargetException {
      if (args.size() != 3) {
        throw new TargetException("Invalid argument count");
      }
      long off;
      long max;
      try {
        off = Long.parseLong(args.get(1));
        max = Long.parseLong(args.get(2));
      } catch (NumberFormatException e) {
        throw new TargetException("Invalid device sector");
      }
      BlockDevice d = ctx.openDevice(args.get(0),
          ctx.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE);
      if (d.sizeInSectors() < off + length) {
        throw new TargetException("Device too small");
      }
      return new PassTarget(d, off, max, String.join(" ", args), seen);
    }
  }
}
