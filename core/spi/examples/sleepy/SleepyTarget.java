package org.example.sleepy;

import dev.jdm.spi.Args;
import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
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
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Holds every request, FLUSH included, for a fixed time before passing it to one device: a small
 * dm-delay. One timer for the earliest request, never a sleeping thread per request. Arguments:
 * {@code <dev_path> <offset> <delay_ms>}.
 */
public final class SleepyTarget implements Target {
  /** When a held request is due, kept in the core's pooled per-request data. */
  static final class Due implements RequestData {
    long at;

    @Override
    public void reset() {
      at = 0;
    }
  }

  private final BlockDevice device;
  private final long offset;
  private final long delayMs;
  private final Scheduler scheduler;
  private final List<BlockDevice> devices;
  private final ConcurrentLinkedQueue<IoRequest> held = new ConcurrentLinkedQueue<>();
  private final AtomicBoolean armed = new AtomicBoolean();
  private volatile Scheduler.Cancellable timer;

  private SleepyTarget(BlockDevice device, long offset, long delayMs, Scheduler scheduler) {
    this.device = device;
    this.offset = offset;
    this.delayMs = delayMs;
    this.scheduler = scheduler;
    this.devices = List.of(device);
  }

  /** The type, found by ServiceLoader. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "sleepy";
    }

    @Override
    public Version version() {
      return Version.of(1, 0, 0);
    }

    @Override
    public String usage() {
      return "<dev_path> <offset> <delay_ms>";
    }

    @Override
    public Target create(TargetContext context, long length, List<String> args)
        throws TargetException {
      Args a = new Args(args);
      String path = a.shift("Invalid argument count");
      long offset = a.number(0, Long.MAX_VALUE, "Invalid device sector");
      long delay = a.number(0, 3_600_000, "Invalid delay");
      a.end("Invalid argument count");
      BlockDevice d = context.openDevice(path,
          context.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE);
      if (offset > d.sizeInSectors() - length) {
        throw new TargetException("Device too small");
      }
      return new SleepyTarget(d, offset, delay, context.scheduler());
    }
  }

  @Override
  public MapResult map(IoRequest request) {
    if (request.op() == IoOp.FLUSH) {
      request.remap(device, 0);
    } else {
      request.remap(device, offset + request.sector());
    }
    if (delayMs == 0) {
      return MapResult.REMAPPED;
    }
    Due due = request.targetData();
    due.at = scheduler.nanoTime() + delayMs * 1_000_000;
    held.add(request);
    arm();
    return MapResult.SUBMITTED; // sent to the device later, by the timer
  }

  /** Starts the timer for the oldest held request unless it runs already. */
  private void arm() {
    IoRequest first = held.peek();
    if (first == null || !armed.compareAndSet(false, true)) {
      return;
    }
    Due due = first.targetData();
    timer = scheduler.schedule(this::sendDue, Math.max(0, due.at - scheduler.nanoTime()));
  }

  /** The timer: sends every request that is due, then waits for the next. */
  private void sendDue() {
    long now = scheduler.nanoTime();
    for (IoRequest r; (r = held.peek()) != null; ) {
      Due due = r.targetData();
      if (due.at > now || !held.remove(r)) {
        break;
      }
      device.submit(r);
    }
    armed.set(false);
    arm();
  }

  /** A suspend sends what is held at once, as dm-delay's flush_delayed_bios. */
  @Override
  public void presuspend() {
    Scheduler.Cancellable t = timer;
    if (t != null) {
      t.cancel();
    }
    for (IoRequest r; (r = held.poll()) != null; ) {
      device.submit(r);
    }
    armed.set(false);
  }

  @Override
  public void resume() {
    arm();
  }

  @Override
  public RequestData newRequestData() {
    return new Due();
  }

  /** FLUSH comes to map too, so it waits its turn like everything else. */
  @Override
  public boolean supports(IoOp op) {
    return op == IoOp.READ || op == IoOp.WRITE || op == IoOp.FLUSH;
  }

  @Override
  public List<BlockDevice> devices() {
    return devices;
  }

  @Override
  public String status(StatusType type) {
    return switch (type) {
      case INFO -> String.valueOf(held.size());
      case TABLE -> device.path() + " " + offset + " " + delayMs;
    };
  }
}
