package dev.jdm.fuse;

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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A test target that maps like linear but issues every request later from a thread of its own, so
 * that requests complete on another thread than the one that submitted them. Table arguments:
 * {@code <dev_path> <offset>}.
 */
final class LaterTarget implements Target {
  private static final ExecutorService LATER = Executors.newFixedThreadPool(3,
      r -> Thread.ofPlatform().daemon().name("later-target").unstarted(r));

  private final BlockDevice device;
  private final long offset;

  private LaterTarget(BlockDevice device, long offset) {
    this.device = device;
    this.offset = offset;
  }

  /** The type, registered by tests as {@code later}. */
  static final class Type implements TargetType {
    @Override
    public String name() {
      return "later";
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
      return new LaterTarget(context.openDevice(args.get(0), DeviceMode.READ_WRITE),
          Long.parseLong(args.get(1)));
    }
  }

  @Override
  public MapResult map(IoRequest request) {
    LATER.execute(() -> {
      request.remap(device, offset + request.sector());
      device.submit(request);
    });
    return MapResult.SUBMITTED;
  }

  @Override
  public List<BlockDevice> devices() {
    return List.of(device);
  }

  @Override
  public String status(StatusType type) {
    return type == StatusType.TABLE ? device.path() + " " + offset : "";
  }
}
