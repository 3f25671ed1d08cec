package dev.jdm.targets.hello;

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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code hello} target, also called {@code hello_target}: the pass-through target of the
 * classic device-mapper tutorial module, which traces every request it maps. It maps like
 * {@code linear} and logs {@code write, <sector>, <bytes>} or {@code read, <sector>, <bytes>} at
 * INFO on the logger {@code dev.jdm.targets.hello}, with the sector counted from the start of the
 * jdm device. Table arguments: {@code <dev_path> <offset>}. See {@code hello.md}.
 */
public final class HelloTarget implements Target {
  private static final Logger TRACE = LoggerFactory.getLogger("dev.jdm.targets.hello");

  private final BlockDevice device;
  private final long offset;
  private final long segmentStart;
  private final List<BlockDevice> devices;

  private HelloTarget(BlockDevice device, long offset, long segmentStart) {
    this.device = device;
    this.offset = offset;
    this.segmentStart = segmentStart;
    this.devices = List.of(device);
  }

  /** The type registered as {@code hello}, with the tutorial's name {@code hello_target}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "hello";
    }

    @Override
    public List<String> aliases() {
      return List.of("hello_target");
    }

    @Override
    public Version version() {
      return Version.of(1, 0, 0);
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
      return new HelloTarget(device, offset, context.beginSector());
    }
  }

  @Override
  public MapResult map(IoRequest request) {
    if (TRACE.isInfoEnabled()) {
      long sector = segmentStart + request.sector();
      if (request.op().changesData()) {
        TRACE.info("write, {}, {}", sector, request.bytes());
      } else {
        TRACE.info("read, {}, {}", sector, request.bytes());
      }
    }
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
