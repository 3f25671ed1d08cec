package dev.jdm.testkit;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.ExtentSink;
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
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The kit's own target {@code kit-spy <dev_path>}: a whole-device passthrough that counts the
 * flushes reaching its device, so the kit can see that FLUSH fans out to every device a target uses.
 */
final class SpyTarget implements Target {
  private final Counting device;

  private SpyTarget(Counting device) {
    this.device = device;
  }

  @Override
  public MapResult map(IoRequest request) {
    request.remap(device, request.sector());
    return MapResult.REMAPPED;
  }

  @Override
  public boolean supports(IoOp op) {
    return device.supports(op);
  }

  @Override
  public List<BlockDevice> devices() {
    return List.of(device);
  }

  @Override
  public void blockStatus(long sector, long sectors, ExtentSink sink) {
    device.blockStatus(sector, sectors, sink);
  }

  @Override
  public String status(StatusType type) {
    return type == StatusType.TABLE ? device.path() : "";
  }

  /** Wraps the real device and counts FLUSH requests on their way to it. */
  private record Counting(BlockDevice inner, AtomicInteger flushes) implements BlockDevice {
    @Override
    public String path() {
      return inner.path();
    }

    @Override
    public long sizeInSectors() {
      return inner.sizeInSectors();
    }

    @Override
    public boolean readOnly() {
      return inner.readOnly();
    }

    @Override
    public boolean supports(IoOp op) {
      return inner.supports(op);
    }

    @Override
    public void blockStatus(long sector, long sectors, ExtentSink sink) {
      inner.blockStatus(sector, sectors, sink);
    }

    @Override
    public void submit(IoRequest request) {
      if (request.op() == IoOp.FLUSH) {
        flushes.incrementAndGet();
      }
      inner.submit(request);
    }
  }

  /** The type, registered by the kit under {@code kit-spy}. */
  static final class Type implements TargetType {
    /** Flushes seen per device path, over every spy this type built. */
    final java.util.Map<String, AtomicInteger> flushesByPath =
        new java.util.concurrent.ConcurrentHashMap<>();

    @Override
    public String name() {
      return "kit-spy";
    }

    @Override
    public Version version() {
      return Version.of(1, 0, 0);
    }

    @Override
    public String usage() {
      return "<dev_path>";
    }

    @Override
    public Target create(TargetContext ctx, long length, List<String> args)
        throws TargetException {
      if (args.size() != 1) {
        throw new TargetException("Invalid argument count");
      }
      BlockDevice d = ctx.openDevice(args.getFirst(),
          ctx.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE);
      if (d.sizeInSectors() < length) {
        throw new TargetException("Device too small");
      }
      AtomicInteger counter =
          flushesByPath.computeIfAbsent(args.getFirst(), k -> new AtomicInteger());
      return new SpyTarget(new Counting(d, counter));
    }
  }
}
