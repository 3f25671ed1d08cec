package dev.jdm.kernel;

import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoStatus;

/**
 * Hears every request a device completes, when attached with {@link MappedDevice#trace}. Called on
 * the completing thread, so it must return at once: hand the record to a buffer, never block or do
 * I/O here.
 */
@FunctionalInterface
public interface IoTracer {
  /**
   * One completed request.
   *
   * @param startNanos {@link System#nanoTime()} when the device accepted it
   * @param latencyNanos how long it took
   */
  void completed(long startNanos, IoOp op, long sector, long bytes, long latencyNanos,
      IoStatus status);
}
