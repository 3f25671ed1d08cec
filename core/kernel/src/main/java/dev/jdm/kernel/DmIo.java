package dev.jdm.kernel;

import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The core's bookkeeping for one submitted request, like the kernel's {@code struct dm_io}: the
 * original request, the clones still out, and the first error. Pooled; every {@link Clone} counts
 * itself off, and the last one ends the original.
 */
final class DmIo {
  DataPath path;
  Table table;
  IoRequest original;
  /** Set when a target asked to requeue a piece: the original waits for the next resume. */
  volatile boolean requeue;
  /** Set while a PREFLUSH runs: the data goes out once every device has flushed. */
  boolean dataAfterFlush;
  final AtomicInteger pending = new AtomicInteger();
  final AtomicReference<IoStatus> error = new AtomicReference<>();

  /** {@link System#nanoTime()} when the device accepted the original. */
  long startNanos;

  DmIo start(DataPath path, Table table, IoRequest original, long startNanos) {
    this.path = path;
    this.startNanos = startNanos;
    this.table = table;
    this.original = original;
    this.requeue = false;
    this.dataAfterFlush = false;
    this.error.set(null);
    this.pending.set(1);
    return this;
  }

  void fail(IoStatus status) {
    error.compareAndSet(null, status);
  }

  /** Drops one pending piece; the last one finishes the original. */
  void release() {
    if (pending.decrementAndGet() == 0) {
      path.finish(this);
    }
  }
}
