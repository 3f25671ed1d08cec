package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceIo;
import dev.jdm.spi.IoCompletion;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.Region;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One {@link DeviceIo} call in flight, the kernel's {@code struct io}: a request per region, the
 * regions still out, the error mask and the first error. Pooled with its requests; the last region
 * to end returns it to the pool and calls the caller's {@link DeviceIo.Done}.
 *
 * <p>A buffer's position and limit belong to whoever does I/O with it, so when one buffer goes to
 * several regions at once, the first region gets it and each other region a duplicate. A region
 * keeps its duplicate for the next call with the same buffer: callers that reuse their buffers
 * allocate nothing.
 */
final class RegionIoCall {
  private static final Logger LOG = LoggerFactory.getLogger(RegionIoCall.class);

  private final FreeList<RegionIoCall> pool;
  private Leg[] legs = new Leg[0];
  /** Regions still out, plus one held by {@link #start} until every region is submitted. */
  private final AtomicInteger pending = new AtomicInteger();
  private final AtomicLong errors = new AtomicLong();
  private final AtomicReference<IoStatus> firstError = new AtomicReference<>();
  private DeviceIo.Done done;

  RegionIoCall(FreeList<RegionIoCall> pool) {
    this.pool = pool;
  }

  void start(IoOp op, int flags, Region[] regions, int count, ByteBuffer data, int dataOffset,
      DeviceIo.Done done) {
    this.done = done;
    errors.set(0);
    firstError.set(null);
    pending.set(count + 1);
    if (legs.length < count) {
      grow(count);
    }
    Region first = regions[0];
    long bytes = op.hasData() && first != null ? first.sectors() << IoRequest.SECTOR_SHIFT : 0;
    for (int i = 0; i < count; i++) {
      Leg leg = legs[i];
      Region region = regions[i];
      IoStatus bad = check(op, region, bytes, data, dataOffset);
      if (bad != null) {
        fail(i, bad);
        countDown();
        continue;
      }
      IoRequest r = leg.request;
      switch (op) {
        case READ, WRITE -> r.prepare(op, flags, region.sector(), (int) bytes,
            i == 0 ? data : leg.duplicateOf(data), dataOffset, leg);
        case FLUSH -> r.prepareRange(op, flags, 0, 0, leg);
        case DISCARD, WRITE_ZEROES -> r.prepareRange(op, flags, region.sector(),
            region.sectors() << IoRequest.SECTOR_SHIFT, leg);
      }
      leg.submit(region.device());
    }
    countDown();
  }

  private void grow(int count) {
    Leg[] more = new Leg[count];
    System.arraycopy(legs, 0, more, 0, legs.length);
    for (int i = legs.length; i < count; i++) {
      more[i] = new Leg(this, i);
    }
    legs = more;
  }

  /** What is wrong with a region for this call, or null: checked once, before any device sees it. */
  private static IoStatus check(IoOp op, Region region, long bytes, ByteBuffer data,
      int dataOffset) {
    BlockDevice d = region == null ? null : region.device();
    if (d == null) {
      return IoStatus.EINVAL;
    }
    if (op.changesData() && d.readOnly()) {
      return IoStatus.EPERM;
    }
    if (op == IoOp.FLUSH) {
      return null;
    }
    long sectors = region.sectors();
    if (sectors <= 0) {
      return IoStatus.EINVAL;
    }
    if (op.hasData() && (sectors << IoRequest.SECTOR_SHIFT != bytes || bytes > Integer.MAX_VALUE
        || dataOffset > data.capacity() - bytes)) {
      return IoStatus.EINVAL;
    }
    if (region.sector() < 0 || region.sector() > d.sizeInSectors() - sectors) {
      return op.changesData() ? IoStatus.ENOSPC : IoStatus.EINVAL;
    }
    if (!op.hasData() && !d.supports(op)) {
      return IoStatus.EOPNOTSUPP;
    }
    return null;
  }

  private void fail(int region, IoStatus status) {
    errors.getAndAccumulate(1L << region, (a, b) -> a | b);
    firstError.compareAndSet(null, status);
  }

  private void countDown() {
    if (pending.decrementAndGet() != 0) {
      return;
    }
    DeviceIo.Done d = done;
    long mask = errors.get();
    IoStatus first = firstError.get();
    done = null;
    pool.give(this);
    d.done(mask, first == null ? IoStatus.OK : first);
  }

  /** One region's request and its completion. */
  private static final class Leg implements IoCompletion {
    final IoRequest request = new IoRequest();
    private final RegionIoCall call;
    private final int index;
    private ByteBuffer source;
    private ByteBuffer duplicate;
    private volatile boolean ended;

    Leg(RegionIoCall call, int index) {
      this.call = call;
      this.index = index;
    }

    ByteBuffer duplicateOf(ByteBuffer data) {
      if (source != data) {
        duplicate = data.duplicate();
        source = data;
      }
      return duplicate;
    }

    void submit(BlockDevice device) {
      ended = false;
      try {
        device.submit(request);
      } catch (RuntimeException e) {
        // A device must not throw; if one does, its region fails instead of the call hanging.
        LOG.error("{}: {} threw", device.path(), request, e);
        if (!ended) {
          request.complete(IoStatus.EIO);
        }
      }
    }

    @Override
    public void completed(IoRequest r) {
      ended = true;
      IoStatus s = r.status();
      // Clear the request so a second completion by a faulty device fails loudly.
      r.prepare(IoOp.READ, 0, 0, 0, null, 0, null);
      if (s != IoStatus.OK) {
        call.fail(index, s);
      }
      call.countDown();
    }
  }
}
