package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.CopyJob;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.Region;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One copy or zeroing started by a {@link TargetCopier}, the kernel's {@code kcopyd_job}: the
 * regions (copied when the job starts), the chunks handed out so far, progress and errors. A few
 * {@link CopyLane}s each take the next chunk until none is left or the job stops; the last lane
 * to end runs the caller's done on a worker.
 *
 * <p>A read error stops the job. A write error marks that destination, which gets no more chunks;
 * the others go on, and the job stops only when every destination has failed.
 */
final class CopyTask implements CopyJob {
  private static final Logger LOG = LoggerFactory.getLogger(CopyTask.class);

  final TargetCopier copier;
  /** The source, or null for a zeroing job. */
  final Region from;
  final Region[] to;
  final int count;
  final long sectors;
  /** How a zeroing job writes: WRITE_ZEROES when every destination does it, else WRITE of zeros. */
  final IoOp zeroOp;
  private final Done done;
  private final CopyLane[] lanes;
  private final AtomicLong claimed = new AtomicLong();
  private final AtomicLong copied = new AtomicLong();
  private final AtomicLong writeErrors = new AtomicLong();
  private final AtomicInteger lanesRunning = new AtomicInteger();
  private final CountDownLatch end = new CountDownLatch(1);
  private final long allDestinations;
  private volatile boolean cancelled;
  private volatile boolean readFailed;
  private volatile boolean finished;

  CopyTask(TargetCopier copier, Region from, Region[] to, int count, long sectors, Done done) {
    this.copier = copier;
    this.from = from == null ? null : new Region(from.device(), from.sector(), from.sectors());
    this.to = new Region[count];
    boolean zeroes = true;
    for (int i = 0; i < count; i++) {
      BlockDevice d = to[i].device();
      this.to[i] = new Region(d, to[i].sector(), to[i].sectors());
      zeroes &= d.supports(IoOp.WRITE_ZEROES);
    }
    this.zeroOp = zeroes ? IoOp.WRITE_ZEROES : IoOp.WRITE;
    this.count = count;
    this.sectors = sectors;
    this.done = done;
    this.allDestinations = count == 64 ? -1L : (1L << count) - 1;
    long chunks = (sectors + copier.chunkSectors - 1) / copier.chunkSectors;
    this.lanes = new CopyLane[(int) Math.min(copier.lanes, chunks)];
    for (int i = 0; i < lanes.length; i++) {
      lanes[i] = new CopyLane(this, this.from == null ? null
          : copier.buffers.take(sectors << IoRequest.SECTOR_SHIFT));
    }
  }

  void start() {
    lanesRunning.set(lanes.length);
    for (CopyLane lane : lanes) {
      lane.next();
    }
  }

  /** The first sector of the next chunk for a lane, or -1 when every chunk is taken. */
  long claim() {
    long at = claimed.getAndAdd(copier.chunkSectors);
    return at < sectors ? at : -1;
  }

  /** Whether lanes should take no more chunks. */
  boolean stopping() {
    return cancelled || readFailed || liveDestinations() == 0;
  }

  /** The destinations that have not failed, one bit each. */
  long liveDestinations() {
    return allDestinations & ~writeErrors.get();
  }

  void readFailed() {
    readFailed = true;
  }

  /** A chunk was written, except to the destinations in {@code failed}. */
  void wrote(int chunkSectors, long failed) {
    if (failed != 0) {
      writeErrors.getAndAccumulate(failed, (a, b) -> a | b);
    }
    copied.addAndGet(chunkSectors);
  }

  /** A lane has stopped; the last one ends the job. */
  void laneEnded(CopyLane lane) {
    if (lane.buffer != null) {
      copier.buffers.give(lane.buffer);
    }
    if (lanesRunning.decrementAndGet() == 0) {
      finish();
    }
  }

  private void finish() {
    boolean stoppedEarly = cancelled && !readFailed && copied.get() < sectors;
    Runnable report = () -> {
      finished = true;
      try {
        done.done(readFailed, writeErrors.get(), stoppedEarly);
      } catch (RuntimeException e) {
        LOG.error("{}: copy done callback failed", copier.device, e);
      } finally {
        copier.ended(this);
        end.countDown();
      }
    };
    try {
      copier.scheduler.execute(report);
    } catch (RejectedExecutionException e) {
      report.run();
    }
  }

  @Override
  public long sectorsDone() {
    return copied.get();
  }

  @Override
  public long sectors() {
    return sectors;
  }

  @Override
  public boolean finished() {
    return finished;
  }

  @Override
  public void cancel() {
    cancelled = true;
    for (CopyLane lane : lanes) {
      lane.cancelWait();
    }
  }

  /** Waits until done has run; whether it has. */
  boolean awaitEnd(long nanos) throws InterruptedException {
    return end.await(nanos, TimeUnit.NANOSECONDS);
  }

  @Override
  public String toString() {
    return (from == null ? "zero" : "copy " + from) + " -> " + count + " region(s): " + copied
        + "/" + sectors;
  }
}
