package dev.jdm.kernel;

import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoStatus;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of one device since it was created, in the spirit of dm-stats: requests and bytes by
 * direction, errors, and a latency histogram with buckets at powers of two of a microsecond from
 * which percentiles are read. Updating them takes no lock and allocates nothing.
 */
public final class DeviceStats {
  private static final int BUCKETS = 40;

  private final LongAdder reads = new LongAdder();
  private final LongAdder writes = new LongAdder();
  private final LongAdder others = new LongAdder();
  private final LongAdder readBytes = new LongAdder();
  private final LongAdder writtenBytes = new LongAdder();
  private final LongAdder errors = new LongAdder();
  private final AtomicLongArray latency = new AtomicLongArray(BUCKETS);

  void record(IoOp op, long bytes, long latencyNanos, IoStatus status) {
    switch (op) {
      case READ -> {
        reads.increment();
        readBytes.add(bytes);
      }
      case WRITE -> {
        writes.increment();
        writtenBytes.add(bytes);
      }
      default -> others.increment();
    }
    if (status != IoStatus.OK) {
      errors.increment();
    }
    long micros = Math.max(1, latencyNanos / 1000);
    latency.incrementAndGet(Math.min(BUCKETS - 1, 63 - Long.numberOfLeadingZeros(micros)));
  }

  /**
   * What the counters say now.
   *
   * @param inFlight requests the device is working on
   */
  public Snapshot snapshot(int inFlight) {
    long[] h = new long[BUCKETS];
    long total = 0;
    for (int i = 0; i < BUCKETS; i++) {
      h[i] = latency.get(i);
      total += h[i];
    }
    return new Snapshot(reads.sum(), writes.sum(), others.sum(), readBytes.sum(),
        writtenBytes.sum(), errors.sum(), inFlight, percentile(h, total, 0.50),
        percentile(h, total, 0.99));
  }

  /** The upper edge, in microseconds, of the bucket holding the {@code p} quantile. */
  private static long percentile(long[] h, long total, double p) {
    if (total == 0) {
      return 0;
    }
    long rank = (long) Math.ceil(p * total);
    long seen = 0;
    for (int i = 0; i < h.length; i++) {
      seen += h[i];
      if (seen >= rank) {
        return 1L << (i + 1);
      }
    }
    return 1L << h.length;
  }

  /**
   * Counters at one moment. Latencies are upper bounds in microseconds (bucket edges, powers of 2).
   */
  public record Snapshot(long reads, long writes, long others, long readBytes, long writtenBytes,
      long errors, int inFlight, long p50Micros, long p99Micros) {}
}
