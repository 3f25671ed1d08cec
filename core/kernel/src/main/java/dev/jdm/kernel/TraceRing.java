package dev.jdm.kernel;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * Bounded buffers of trace records for many producers and one consumer. Records are primitives in
 * preallocated arrays, so offering allocates nothing; a full buffer drops the record and counts it
 * instead of waiting. The consumer can seal the buffers, after which every offer is counted as
 * dropped, so no record is ever lost without being counted.
 *
 * <p>The capacity is split into stripes, and each thread offers to the stripe its id picks: threads
 * completing I/O on different cores then rarely write the same cache lines, which costs more than
 * the rest of the offer. A thread can fill only its own stripe.
 */
final class TraceRing {
  private static final int MAX_STRIPES = 16;

  private final Stripe[] stripes;
  private final int shift;

  /** Buffers of at least {@code capacity} records in all. */
  TraceRing(int capacity) {
    if (capacity < 2) {
      throw new IllegalArgumentException("trace buffer must hold at least 2 records: " + capacity);
    }
    int n = Math.min(MAX_STRIPES, 2 * Runtime.getRuntime().availableProcessors());
    n = Integer.highestOneBit(Math.max(1, Math.min(n, capacity / 2)));
    shift = 64 - Integer.numberOfTrailingZeros(n);
    stripes = new Stripe[n];
    for (int i = 0; i < n; i++) {
      stripes[i] = new Stripe((capacity + n - 1) / n);
    }
  }

  /** Records the buffers hold when full. */
  int capacity() {
    return stripes.length * stripes[0].capacity();
  }

  /** Packs the small fields of a record into one long. */
  static long kind(int op, int status, long bytes) {
    // A range of 4 GiB or more (a discard) is recorded as 4 GiB - 1.
    return Math.min(bytes, 0xFFFF_FFFFL) | ((long) op << 32) | ((long) status << 40);
  }

  /** Stores a record, or counts it as dropped when its stripe is full or sealed. Never waits. */
  void offer(long startNanos, long sector, long latencyNanos, long kind) {
    // Fibonacci hashing spreads consecutive thread ids over the stripes.
    int i = shift == 64 ? 0
        : (int) ((Thread.currentThread().threadId() * 0x9E3779B97F4A7C15L) >>> shift);
    stripes[i].offer(startNanos, sector, latencyNanos, kind);
  }

  /** What the consumer is handed, one record at a time. */
  interface Sink {
    void record(long startNanos, long sector, long latencyNanos, long kind);
  }

  /** Hands every record published so far to {@code sink}; returns how many. Consumer only. */
  int drain(Sink sink) {
    int n = 0;
    for (Stripe s : stripes) {
      while (s.take(sink)) {
        n++;
      }
    }
    return n;
  }

  /**
   * Stops further offers and hands what is left to {@code sink}, including records whose producer
   * had claimed a slot but not yet filled it. Consumer only.
   */
  void sealAndDrain(Sink sink) {
    for (Stripe s : stripes) {
      s.sealAndDrain(sink);
    }
  }

  /** Records dropped because a stripe was full or sealed. */
  long dropped() {
    long d = 0;
    for (Stripe s : stripes) {
      d += s.dropped.sum();
    }
    return d;
  }

  /**
   * One bounded ring, after Dmitry Vyukov's bounded queue: each slot carries a sequence number
   * that says whose turn it is, so producers claim slots with one compare-and-set and the consumer
   * takes no lock.
   */
  private static final class Stripe {
    private static final long SEALED = Long.MIN_VALUE;

    private final int mask;
    private final AtomicLongArray turn;
    private final long[] start;
    private final long[] sector;
    private final long[] latency;
    /** Bytes in the low 32 bits, op ordinal in bits 32-39, status ordinal in bits 40-47. */
    private final long[] kind;
    private final AtomicLong tail = new AtomicLong();
    private final LongAdder dropped = new LongAdder();
    private long head;

    Stripe(int capacity) {
      int size = Integer.highestOneBit(Math.max(2, capacity) - 1) << 1;
      mask = size - 1;
      turn = new AtomicLongArray(size);
      for (int i = 0; i < size; i++) {
        turn.set(i, i);
      }
      start = new long[size];
      sector = new long[size];
      latency = new long[size];
      kind = new long[size];
    }

    int capacity() {
      return mask + 1;
    }

    void offer(long startNanos, long sectorValue, long latencyNanos, long kindValue) {
      long pos = tail.get();
      while (true) {
        if (pos < 0) {
          dropped.increment();
          return;
        }
        long diff = turn.getAcquire((int) pos & mask) - pos;
        if (diff == 0) {
          if (tail.compareAndSet(pos, pos + 1)) {
            break;
          }
          pos = tail.get();
        } else if (diff < 0) {
          dropped.increment();
          return;
        } else {
          pos = tail.get();
        }
      }
      int slot = (int) pos & mask;
      start[slot] = startNanos;
      sector[slot] = sectorValue;
      latency[slot] = latencyNanos;
      kind[slot] = kindValue;
      turn.setRelease(slot, pos + 1);
    }

    boolean take(Sink sink) {
      int slot = (int) head & mask;
      if (turn.getAcquire(slot) != head + 1) {
        return false;
      }
      sink.record(start[slot], sector[slot], latency[slot], kind[slot]);
      turn.setRelease(slot, head + mask + 1);
      head++;
      return true;
    }

    void sealAndDrain(Sink sink) {
      while (true) {
        long t = tail.get();
        while (head < t) {
          if (!take(sink)) {
            Thread.onSpinWait();
          }
        }
        if (tail.compareAndSet(t, t | SEALED)) {
          return;
        }
      }
    }
  }
}
