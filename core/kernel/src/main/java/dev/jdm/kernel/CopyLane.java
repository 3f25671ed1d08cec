package dev.jdm.kernel;

import dev.jdm.spi.DeviceIo;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.Region;
import dev.jdm.spi.Scheduler;
import java.nio.ByteBuffer;
import java.util.concurrent.RejectedExecutionException;

/**
 * One chunk in flight of a {@link CopyTask}: takes a chunk, waits for the throttle on a timer (not
 * on a thread), reads it into its buffer, writes it to every destination still alive in one dm-io
 * call, and goes for the next chunk on a worker. Each step is started by the end of the one before,
 * so a lane holds a thread only while a device does its I/O.
 */
final class CopyLane {
  private final CopyTask job;
  /** The chunk buffer of a copy; null for zeroing. */
  final ByteBuffer buffer;
  private final Region[] source = {new Region()};
  private final Region[] targets;
  /** The job's destination index of each entry of {@link #targets}. */
  private final int[] destination;
  private final Runnable step = this::step;
  private final Runnable send = this::send;
  private final DeviceIo.Done afterRead = this::afterRead;
  private final DeviceIo.Done afterWrite = this::afterWrite;
  private volatile Scheduler.Cancellable waiting;
  private long offset;
  private int chunk;

  CopyLane(CopyTask job, ByteBuffer buffer) {
    this.job = job;
    this.buffer = buffer;
    this.targets = new Region[job.count];
    for (int i = 0; i < targets.length; i++) {
      targets[i] = new Region();
    }
    this.destination = new int[job.count];
  }

  /** Goes for the next chunk on a worker. */
  void next() {
    try {
      job.copier.scheduler.execute(step);
    } catch (RejectedExecutionException e) {
      job.laneEnded(this);
    }
  }

  private void step() {
    long at = job.stopping() ? -1 : job.claim();
    if (at < 0) {
      job.laneEnded(this);
      return;
    }
    offset = at;
    chunk = (int) Math.min(job.copier.chunkSectors, job.sectors - at);
    long wait = job.copier.reserve((long) chunk << IoRequest.SECTOR_SHIFT);
    if (wait <= 0) {
      send();
      return;
    }
    try {
      waiting = job.copier.scheduler.schedule(send, wait);
    } catch (RejectedExecutionException e) {
      job.laneEnded(this);
      return;
    }
    if (job.stopping()) {
      cancelWait();
    }
  }

  /** Ends the lane now if it is waiting for the throttle (the job was cancelled). */
  void cancelWait() {
    Scheduler.Cancellable w = waiting;
    if (w != null && w.cancel()) {
      waiting = null;
      job.laneEnded(this);
    }
  }

  private void send() {
    waiting = null;
    if (job.stopping()) {
      job.laneEnded(this);
      return;
    }
    if (job.from == null) {
      write();
      return;
    }
    source[0].set(job.from.device(), job.from.sector() + offset, chunk);
    job.copier.io.submit(IoOp.READ, 0, source, 1, buffer, 0, afterRead);
  }

  private void afterRead(long errorMask, IoStatus firstError) {
    if (errorMask != 0) {
      job.readFailed();
      job.laneEnded(this);
      return;
    }
    write();
  }

  private void write() {
    long live = job.liveDestinations();
    int n = 0;
    for (int i = 0; i < job.count; i++) {
      if ((live & (1L << i)) != 0) {
        Region d = job.to[i];
        targets[n].set(d.device(), d.sector() + offset, chunk);
        destination[n++] = i;
      }
    }
    if (n == 0) {
      job.laneEnded(this);
      return;
    }
    if (job.from != null) {
      job.copier.io.submit(IoOp.WRITE, 0, targets, n, buffer, 0, afterWrite);
    } else if (job.zeroOp == IoOp.WRITE) {
      job.copier.io.submit(IoOp.WRITE, 0, targets, n, job.copier.zeros, 0, afterWrite);
    } else {
      job.copier.io.submit(IoOp.WRITE_ZEROES, 0, targets, n, null, 0, afterWrite);
    }
  }

  private void afterWrite(long errorMask, IoStatus firstError) {
    long failed = 0;
    for (long m = errorMask; m != 0; m &= m - 1) {
      failed |= 1L << destination[Long.numberOfTrailingZeros(m)];
    }
    job.wrote(chunk, failed);
    next();
  }
}
