package dev.jdm.targets.linear;

import dev.jdm.spi.Args;
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
 * The {@code linear} target: the segment's sector {@code s} is sector {@code offset + s} of one
 * device. Table arguments: {@code <dev_path> <offset>}. See {@code linear.md}.
 */
public final class LinearTarget implements Target {
  private final BlockDevice device;
  private final long offset;
  private final List<BlockDevice> devices;

  private LinearTarget(BlockDevice device, long offset) {
    this.device = device;
    this.offset = offset;
    this.devices = List.of(device);
  }

  /** The type registered as {@code linear}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "linear";
    }

    @Override
    public Version version() {
      return Version.of(1, 4, 0);
    }

    @Override
    public String usage() {
      return "<dev_path> <offset>";
    }

    @Override
    public Target create(TargetContext context, long lengthInSectors, List<String> args)
        throws TargetException {
      if (args.size() != 2) {
        throw new TargetException("Invalid argument count");
      }
      long offset = Args.decimal(args.get(1), 0, Long.MAX_VALUE, "Invalid device sector");
      DeviceMode mode = context.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE;
      BlockDevice device = context.openDevice(args.get(0), mode);
      if (offset > device.sizeInSectors() - lengthInSectors) {
        throw new TargetException("Device too small");
      }
      return new LinearTarget(device, offset);
    }
  }

  @Override
  public MapResult map(IoRequest request) {
    request.remap(device, offset + request.sector());
    return MapResult.REMAPPED;
  }

  @Override
  public boolean supports(IoOp op) {
    return device.supports(op);
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
    return switch (type) {
      case INFO -> "";
      case TABLE -> device.path() + " " + offset;
    };
  }
}
