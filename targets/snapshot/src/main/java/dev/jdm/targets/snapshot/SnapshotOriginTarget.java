package dev.jdm.targets.snapshot;

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
 * The {@code snapshot-origin} target: sector {@code s} is sector {@code s} of the origin device.
 * Reads go straight through; a write first has every chunk it touches copied into the COW device of
 * each snapshot of the origin that does not hold it yet, and waits for those copies only. Table
 * arguments: {@code <origin_dev>}. See {@code snapshot.md}.
 */
public final class SnapshotOriginTarget implements Target {
  private final BlockDevice device;
  private final List<BlockDevice> devices;
  private final Origins origins;
  private final Origins.Entry entry;

  private SnapshotOriginTarget(BlockDevice device, Origins origins) {
    this.device = device;
    this.devices = List.of(device);
    this.origins = origins;
    this.entry = origins.acquire(device);
  }

  /** The type registered as {@code snapshot-origin}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "snapshot-origin";
    }

    @Override
    public Version version() {
      return Version.of(1, 9, 0);
    }

    @Override
    public String usage() {
      return "<origin_dev>";
    }

    @Override
    public Target create(TargetContext context, long lengthInSectors, List<String> args)
        throws TargetException {
      if (args.size() != 1) {
        throw new TargetException("origin: incorrect number of arguments");
      }
      BlockDevice device;
      try {
        device = context.openDevice(args.getFirst(),
            context.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE);
      } catch (TargetException e) {
        throw new TargetException("Cannot get target device", e);
      }
      return new SnapshotOriginTarget(device,
          context.shared(Origins.KEY, Origins.class, Origins::new));
    }
  }

  @Override
  public MapResult map(IoRequest r) {
    r.remap(device, r.sector());
    if (r.op().changesData() && origins.write(entry, r)) {
      return MapResult.SUBMITTED;
    }
    return MapResult.REMAPPED;
  }

  @Override
  public boolean supports(IoOp op) {
    return op != IoOp.FLUSH && device.supports(op);
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
    device.blockStatus(sector, sectors, sink);
  }

  @Override
  public String status(StatusType type) {
    return switch (type) {
      case INFO -> "";
      case TABLE -> device.path();
    };
  }

  @Override
  public void close() {
    origins.release(entry);
  }
}
