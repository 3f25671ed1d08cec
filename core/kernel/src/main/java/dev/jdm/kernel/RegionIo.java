package dev.jdm.kernel;

import dev.jdm.spi.DeviceIo;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.Region;
import java.nio.ByteBuffer;

/**
 * The core's dm-io, shared by every target of a device mapper: one I/O to up to
 * {@link #MAX_REGIONS} regions with one completion. Each call's state comes from a pool
 * ({@link RegionIoCall}), so a steady stream of calls allocates nothing. Wrong arguments are the
 * caller's bug and throw at once; a region the device cannot take fails that region alone.
 */
final class RegionIo implements DeviceIo {
  private final FreeList<RegionIoCall> calls;

  RegionIo(int poolSize) {
    this.calls = new FreeList<>(poolSize, this::newCall);
  }

  private RegionIoCall newCall() {
    return new RegionIoCall(calls);
  }

  @Override
  public void submit(IoOp op, int flags, Region[] regions, int count, ByteBuffer data,
      int dataOffset, Done done) {
    if (op == null || done == null || regions == null) {
      throw new IllegalArgumentException("dm-io: op, regions and done are required");
    }
    if (count < 1 || count > MAX_REGIONS || count > regions.length) {
      throw new IllegalArgumentException("dm-io: " + count + " regions (1 to " + MAX_REGIONS
          + " of the " + regions.length + " given)");
    }
    if (op == IoOp.READ && count != 1) {
      throw new IllegalArgumentException("dm-io: a READ reads one region, not " + count);
    }
    if (op.hasData() && (data == null || dataOffset < 0)) {
      throw new IllegalArgumentException("dm-io: " + op + " needs a buffer and an offset >= 0");
    }
    calls.take().start(op, flags, regions, count, data, dataOffset, done);
  }

  @Override
  public long run(IoOp op, int flags, Region[] regions, int count, ByteBuffer data,
      int dataOffset) throws InterruptedException {
    Waiter w = new Waiter();
    submit(op, flags, regions, count, data, dataOffset, w);
    return w.await();
  }

  /** Waits for one call. Never returns while the I/O still uses the caller's buffer. */
  private static final class Waiter implements Done {
    private boolean ended;
    private long mask;

    @Override
    public synchronized void done(long errorMask, IoStatus firstError) {
      mask = errorMask;
      ended = true;
      notifyAll();
    }

    synchronized long await() throws InterruptedException {
      boolean interrupted = false;
      while (!ended) {
        try {
          wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        throw new InterruptedException("dm-io: interrupted (the I/O has ended)");
      }
      return mask;
    }
  }
}
