package dev.jdm.kernel;

import dev.jdm.spi.Copier;
import dev.jdm.spi.CopyJob;
import dev.jdm.spi.DeviceIo;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.Region;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One target's copier, the kernel's {@code dm_kcopyd_client}: starts {@link CopyTask}s, paces all
 * of them together to the target's rate, and on close cancels what still runs and waits for it.
 * Chunks run on the target's {@link TargetScheduler} workers and go out through the shared
 * {@link RegionIo}; chunk buffers come from the mapper's pool.
 */
final class TargetCopier implements Copier, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TargetCopier.class);

  final String device;
  final TargetScheduler scheduler;
  final RegionIo io;
  final ChunkBuffers buffers;
  final ByteBuffer zeros;
  final int chunkSectors;
  final int lanes;
  private final long stopTimeoutNanos;
  private final Set<CopyTask> jobs = ConcurrentHashMap.newKeySet();
  private volatile long rate;
  /** When the next chunk may start, on the scheduler's clock: the throttle. */
  private final AtomicLong nextSlot = new AtomicLong();
  private volatile boolean closed;

  TargetCopier(String device, TargetScheduler scheduler, RegionIo io, ChunkBuffers buffers,
      ByteBuffer zeros, int chunkBytes, int lanes, long rate, long stopTimeoutNanos) {
    this.device = device;
    this.scheduler = scheduler;
    this.io = io;
    this.buffers = buffers;
    this.zeros = zeros;
    this.chunkSectors = chunkBytes >>> IoRequest.SECTOR_SHIFT;
    this.lanes = lanes;
    this.rate = rate;
    this.stopTimeoutNanos = stopTimeoutNanos;
    this.nextSlot.set(scheduler.nanoTime());
  }

  @Override
  public CopyJob copy(Region from, Region[] to, int count, CopyJob.Done done) {
    if (from == null || from.device() == null) {
      throw new IllegalArgumentException("copier: no source region");
    }
    return start(from, to, count, done);
  }

  @Override
  public CopyJob zero(Region[] to, int count, CopyJob.Done done) {
    return start(null, to, count, done);
  }

  private CopyJob start(Region from, Region[] to, int count, CopyJob.Done done) {
    if (done == null || to == null || count < 1 || count > DeviceIo.MAX_REGIONS
        || count > to.length) {
      throw new IllegalArgumentException("copier: " + count + " destinations (1 to "
          + DeviceIo.MAX_REGIONS + "), and a done callback");
    }
    long sectors = from != null ? from.sectors() : to[0].sectors();
    if (sectors <= 0) {
      throw new IllegalArgumentException("copier: empty region");
    }
    for (int i = 0; i < count; i++) {
      if (to[i] == null || to[i].device() == null || to[i].sectors() != sectors) {
        throw new IllegalArgumentException("copier: destination " + i + " is not a region of "
            + sectors + " sectors");
      }
    }
    CopyTask job = new CopyTask(this, from, to, count, sectors, done);
    synchronized (this) {
      if (closed) {
        throw new IllegalStateException(device + ": the target's copier is closed");
      }
      jobs.add(job);
    }
    job.start();
    return job;
  }

  @Override
  public long rate() {
    return rate;
  }

  @Override
  public void rate(long bytesPerSecond) {
    if (bytesPerSecond < 0) {
      throw new IllegalArgumentException("copier: negative rate " + bytesPerSecond);
    }
    rate = bytesPerSecond;
    // Chunks already waiting keep their turn; the next ones are paced at the new rate from now.
    nextSlot.set(scheduler.nanoTime());
  }

  /**
   * Reserves the throttle's time for {@code bytes} and says how long to wait before sending them
   * (0: now). The reservations of every job of the target follow one another at the rate, so
   * together they never run faster; a job that falls behind builds up no credit.
   */
  long reserve(long bytes) {
    long r = rate;
    if (r <= 0) {
      return 0;
    }
    long cost = Math.max(1, bytes * TimeUnit.SECONDS.toNanos(1) / r);
    while (true) {
      long now = scheduler.nanoTime();
      long slot = nextSlot.get();
      long start = Math.max(now, slot);
      if (nextSlot.compareAndSet(slot, start + cost)) {
        return start - now;
      }
    }
  }

  /** A job has run its done: forget it. */
  void ended(CopyTask job) {
    jobs.remove(job);
  }

  /** Cancels every job still running and waits for their done, up to the stop timeout. */
  @Override
  public void close() {
    synchronized (this) {
      closed = true;
    }
    for (CopyTask job : jobs) {
      job.cancel();
    }
    long deadline = System.nanoTime() + stopTimeoutNanos;
    for (CopyTask job : jobs) {
      try {
        if (!job.awaitEnd(Math.max(0, deadline - System.nanoTime()))) {
          LOG.warn("{}: a copy did not stop within {} ms of the target closing", device,
              TimeUnit.NANOSECONDS.toMillis(stopTimeoutNanos));
          return;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
