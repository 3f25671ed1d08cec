package dev.jdm.targets.delay;

import dev.jdm.spi.Args;
import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.RequestData;
import dev.jdm.spi.Scheduler;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * The {@code delay} target: reads, writes and flushes each wait their own time before they go to
 * their own device, as dm-delay. Held requests wait in one queue per kind, and one timer on the
 * core's scheduler is armed for the earliest; no thread sleeps for a request. A suspend sends
 * everything held at once. Table arguments: {@code <dev> <offset> <delay> [<write_dev>
 * <write_offset> <write_delay> [<flush_dev> <flush_offset> <flush_delay>]]}, delays in
 * milliseconds. See {@code delay.md}.
 */
public final class DelayTarget implements Target {
  private static final long UINT_MAX = 0xffff_ffffL;

  private final int argc;
  private final Lane read;
  private final Lane write;
  private final Lane flush;
  private final Lane[] lanes;
  private final Scheduler scheduler;
  private final List<BlockDevice> devices;

  private final Object lock = new Object();
  // Guarded by lock.
  private boolean mayDelay = true;
  private Scheduler.Cancellable timer;
  private long timerDue;
  private long timerGeneration;

  /** Where one kind of request goes, how long it waits, and the requests waiting. */
  private static final class Lane {
    final BlockDevice device;
    final long start;
    final long delayMs;
    final long delayNanos;
    /** Held requests, due in the order they came: every one waits the same time. */
    final ArrayDeque<IoRequest> held = new ArrayDeque<>();

    Lane(BlockDevice device, long start, long delayMs) {
      this.device = device;
      this.start = start;
      this.delayMs = delayMs;
      this.delayNanos = delayMs * 1_000_000L;
    }

    long firstDue() {
      IoRequest r = held.peek();
      return r == null ? Long.MAX_VALUE : r.<Due>targetData().at;
    }

    String table() {
      return device.path() + " " + start + " " + delayMs;
    }
  }

  /** When a held request may go: the kernel's per-bio {@code dm_delay_info}. */
  private static final class Due implements RequestData {
    long at;

    @Override
    public void reset() {
      at = 0;
    }
  }

  private DelayTarget(int argc, Lane read, Lane write, Lane flush, Scheduler scheduler) {
    this.argc = argc;
    this.read = read;
    this.write = write;
    this.flush = flush;
    this.lanes = new Lane[] {read, write, flush};
    this.scheduler = scheduler;
    this.devices = Stream.of(read.device, write.device, flush.device).distinct().toList();
  }

  /** The type registered as {@code delay}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "delay";
    }

    @Override
    public Version version() {
      return Version.of(1, 5, 0);
    }

    @Override
    public String usage() {
      return "<dev> <offset> <delay> [<write_dev> <write_offset> <write_delay>"
          + " [<flush_dev> <flush_offset> <flush_delay>]]";
    }

    @Override
    public Target create(TargetContext context, long lengthInSectors, List<String> args)
        throws TargetException {
      int argc = args.size();
      if (argc != 3 && argc != 6 && argc != 9) {
        throw new TargetException("Requires exactly 3, 6 or 9 arguments");
      }
      Args a = new Args(args);
      String[] paths = new String[argc / 3];
      long[] starts = new long[paths.length];
      long[] delays = new long[paths.length];
      for (int i = 0; i < paths.length; i++) {
        paths[i] = a.shift("Requires exactly 3, 6 or 9 arguments");
        starts[i] = a.number(0, Long.MAX_VALUE, "Invalid device sector");
        delays[i] = a.number(0, UINT_MAX, "Invalid delay");
      }
      DeviceMode mode = context.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE;
      Lane[] lanes = new Lane[paths.length];
      for (int i = 0; i < paths.length; i++) {
        BlockDevice d = context.openDevice(paths[i], mode);
        // Only the start must lie on the device: the kernel document's second example runs past
        // the end of its read device, and works here (I/O past the end fails with EIO).
        if (starts[i] >= d.sizeInSectors()) {
          throw new TargetException("Device too small");
        }
        lanes[i] = new Lane(d, starts[i], delays[i]);
      }
      // With 3 arguments writes and flushes are delayed as reads; with 6, flushes as writes.
      Lane read = lanes[0];
      Lane write = lanes.length > 1 ? lanes[1] : new Lane(read.device, read.start, read.delayMs);
      Lane flush = lanes.length > 2 ? lanes[2] : new Lane(write.device, write.start, write.delayMs);
      boolean delays0 = Stream.of(read, write, flush).allMatch(l -> l.delayMs == 0);
      return new DelayTarget(argc, read, write, flush, delays0 ? null : context.scheduler());
    }
  }

  @Override
  public RequestData newRequestData() {
    return new Due();
  }

  private Lane lane(IoRequest request) {
    return switch (request.op()) {
      case READ -> read;
      case FLUSH -> flush;
      default -> request.hasFlag(IoRequest.PREFLUSH) ? flush : write;
    };
  }

  @Override
  public MapResult map(IoRequest request) {
    Lane lane = lane(request);
    request.remap(lane.device, request.op() == IoOp.FLUSH ? 0 : lane.start + request.sector());
    if (lane.delayMs == 0) {
      return MapResult.REMAPPED;
    }
    Due due = request.targetData();
    synchronized (lock) {
      if (!mayDelay) {
        return MapResult.REMAPPED;
      }
      // Taken under the lock, so each lane's queue stays in the order of its due times.
      due.at = scheduler.nanoTime() + lane.delayNanos;
      lane.held.add(request);
      if (timer == null || due.at < timerDue) {
        arm(due.at);
      }
    }
    return MapResult.SUBMITTED;
  }

  /** Arms the one timer for {@code due}, in place of the one armed; holds the lock. */
  private void arm(long due) {
    if (timer != null) {
      timer.cancel();
    }
    long generation = ++timerGeneration;
    timerDue = due;
    timer = scheduler.schedule(() -> fire(generation), Math.max(0, due - scheduler.nanoTime()));
  }

  /** The timer: sends every request that is due and arms the timer for the next one. */
  private void fire(long generation) {
    List<IoRequest> due = new ArrayList<>();
    synchronized (lock) {
      if (generation == timerGeneration) {
        timer = null;
      }
      long now = scheduler.nanoTime();
      long next = Long.MAX_VALUE;
      for (Lane lane : lanes) {
        while (lane.firstDue() <= now) {
          due.add(lane.held.poll());
        }
        next = Math.min(next, lane.firstDue());
      }
      if (next != Long.MAX_VALUE && (timer == null || next < timerDue)) {
        arm(next);
      }
    }
    for (IoRequest r : due) {
      r.device().submit(r);
    }
  }

  /** Sends every held request now and holds no more until resume: {@code flush_delayed_bios}. */
  @Override
  public void presuspend() {
    List<IoRequest> all = new ArrayList<>();
    synchronized (lock) {
      mayDelay = false;
      if (timer != null) {
        timer.cancel();
        timer = null;
      }
      for (Lane lane : lanes) {
        all.addAll(lane.held);
        lane.held.clear();
      }
    }
    for (IoRequest r : all) {
      r.device().submit(r);
    }
  }

  @Override
  public void resume() {
    synchronized (lock) {
      mayDelay = true;
    }
  }

  @Override
  public void close() {
    synchronized (lock) {
      if (timer != null) {
        timer.cancel();
        timer = null;
      }
    }
  }

  @Override
  public boolean supports(IoOp op) {
    return switch (op) {
      case READ, WRITE, FLUSH -> true;
      case DISCARD -> write.device.supports(IoOp.DISCARD);
      case WRITE_ZEROES -> false;
    };
  }

  @Override
  public List<BlockDevice> devices() {
    return devices;
  }

  @Override
  public IoLimits limits() {
    return read.device.limits().combine(write.device.limits()).combine(flush.device.limits());
  }

  @Override
  public void blockStatus(long sector, long sectors, ExtentSink sink) {
    read.device.blockStatus(read.start + sector, sectors, sink);
  }

  @Override
  public String status(StatusType type) {
    return switch (type) {
      case INFO -> {
        synchronized (lock) {
          yield read.held.size() + " " + write.held.size() + " " + flush.held.size();
        }
      }
      case TABLE -> read.table() + (argc >= 6 ? " " + write.table() : "")
          + (argc >= 9 ? " " + flush.table() : "");
    };
  }
}
