package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.CopyJob;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.Region;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Test target {@code probe <dev> [<copy_to>...]}: a linear map onto {@code dev} that keeps its
 * context, so tests reach the kernel's services as a target would. Messages: {@code copy} copies
 * the segment's length of {@code dev} to each {@code copy_to}, {@code zero} zeroes them,
 * {@code rate N} sets the copier's throttle, {@code cancel} stops the copy. Status INFO shows the
 * copy's progress as {@code done/total} sectors, or {@code idle}.
 */
final class ProbeTarget implements Target {
  final TargetContext ctx;
  final BlockDevice dev;
  final List<BlockDevice> copyTo;
  final long length;
  private final String args;
  volatile CopyJob job;
  /** How the last copy ended: {@code readFailed mask cancelled}. */
  volatile CompletableFuture<String> ended = new CompletableFuture<>();
  volatile boolean closed;

  private ProbeTarget(TargetContext ctx, BlockDevice dev, List<BlockDevice> copyTo, long length,
      String args) {
    this.ctx = ctx;
    this.dev = dev;
    this.copyTo = copyTo;
    this.length = length;
    this.args = args;
  }

  @Override
  public MapResult map(IoRequest r) {
    r.remap(dev, r.sector());
    return MapResult.REMAPPED;
  }

  @Override
  public String status(StatusType type) {
    if (type == StatusType.TABLE) {
      return args;
    }
    CopyJob j = job;
    return j == null ? "idle" : j.sectorsDone() + "/" + j.sectors();
  }

  @Override
  public String message(List<String> words) throws TargetException {
    switch (words.getFirst()) {
      case "copy", "zero" -> {
        Region[] to = new Region[copyTo.size()];
        for (int i = 0; i < to.length; i++) {
          to[i] = new Region(copyTo.get(i), 0, length);
        }
        CompletableFuture<String> f = new CompletableFuture<>();
        ended = f;
        CopyJob.Done done = (readFailed, mask, cancelled) ->
            f.complete(readFailed + " " + mask + " " + cancelled);
        job = words.getFirst().equals("copy")
            ? ctx.copier().copy(new Region(dev, 0, length), to, to.length, done)
            : ctx.copier().zero(to, to.length, done);
        return "";
      }
      case "rate" -> {
        ctx.copier().rate(Long.parseLong(words.get(1)));
        return "";
      }
      case "cancel" -> {
        job.cancel();
        return "";
      }
      default -> throw new TargetException("Unknown message");
    }
  }

  @Override
  public List<BlockDevice> devices() {
    List<BlockDevice> all = new ArrayList<>(List.of(dev));
    all.addAll(copyTo);
    return all;
  }

  @Override
  public void close() {
    closed = true;
  }

  static final class Type implements TargetType {
    /** The last target built for each device name. */
    final Map<String, ProbeTarget> made = new ConcurrentHashMap<>();

    @Override
    public String name() {
      return "probe";
    }

    @Override
    public Version version() {
      return Version.of(1, 0, 0);
    }

    @Override
    public String usage() {
      return "<dev_path> [<copy_to>...]";
    }

    @Override
    public Target create(TargetContext ctx, long length, List<String> args)
        throws TargetException {
      if (args.isEmpty()) {
        throw new TargetException("Invalid argument count");
      }
      DeviceMode mode = ctx.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE;
      BlockDevice d = ctx.openDevice(args.getFirst(), mode);
      List<BlockDevice> to = new ArrayList<>();
      for (String p : args.subList(1, args.size())) {
        to.add(ctx.openDevice(p, mode));
      }
      ProbeTarget t = new ProbeTarget(ctx, d, List.copyOf(to), length, String.join(" ", args));
      made.put(ctx.deviceName(), t);
      return t;
    }
  }

  /** Test target {@code kill}: fails every request, as the {@code error} target does. */
  static final class Kill implements TargetType {
    @Override
    public String name() {
      return "kill";
    }

    @Override
    public Version version() {
      return Version.of(1, 0, 0);
    }

    @Override
    public String usage() {
      return "";
    }

    @Override
    public Target create(TargetContext ctx, long length, List<String> args) {
      return new Target() {
        @Override
        public MapResult map(IoRequest r) {
          return MapResult.KILL;
        }

        @Override
        public String status(StatusType type) {
          return "";
        }
      };
    }
  }
}
