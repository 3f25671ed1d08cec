package dev.jdm.kernel;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * A bounded ring of trace records for many producers and one consumer, after Dmitry Vyukov's
 * bounded queue: each slot carries a sequence number that says whose turn it is. Records are
 * primitives in preallocated arrays, so offering allocates nothing; a full ring drops the record
 * and counts it instead of waiting. The consumer can seal the ring, after which every offer is
 * counted as dropped, so no record is ever lost without being counted.
 */
final class TraceRing {
  private static final long SEALED = Long.MIN_VALUE;

  private final int mask;
  private final AtomicLongArray turn;
  private final long[] start;
  private final long[] sector;
  private final long[] latency;
  /** bytes in the low 32 bits, op ordinal in bits 32-39, status ordinal in bits 40-47. */
  private final long[] kind;
  private final AtomicLong tail = new AtomicLong();
  private final LongAdder dropped = new LongAdder();
  private long head;

  /** A ring of at least {@code capacity} records (rounded up to a power of two). */
  TraceRing(int capacity) {
    if (capacity < 2) {
      throw new IllegalArgumentException("trace buffer must hold at least 2 records: " + capacity);
    }
    int size = Integer.highestOneBit(capacity - 1) << 1;
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

  /** Records in the ring when it is full. */
  int capacity() {
    return mask + 1;
  }

  /** Packs the small fields of a record into one long. */
  static long kind(int op, int status, int bytes) {
    return (bytes & 0xFFFF_FFFFL) | ((long) op << 32) | ((long) status << 40);
  }

  /** Stores a record, or counts it as dropped when the ring is full or sealed. Never waits. */
  void offer(long startNanos, long sectorValue, long latencyNanos, long kindValue) {
    long pos = tail.get();
    while (true) {
      if (pos < 0) {
        dropped.increment();
        return;
      }
      int slot = (int) pos & mask;
      long diff = turn.getAcquire(slot) - pos;
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

  /** What the consumer is handed, one record at a time. */
  interface Sink {
    void record(long startNanos, long sector, long latencyNanos, long kind);
  }

  /** Hands every record published so far to {@code sink}; returns how many. Consumer only. */
  int drain(Sink sink) {
    int n = 0;
    while (take(sink)) {
      n++;
    }
    return n;
  }

  /**
   * Stops further offers and hands what is left to {@code sink}, including records whose producer
   * had claimed a slot but not yet filled it. Consumer only.
   */
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

  private boolean take(Sink sink) {
    int slot = (int) head & mask;
    if (turn.getAcquire(slot) != head + 1) {
      return false;
    }
    sink.record(start[slot], sector[slot], latency[slot], kind[slot]);
    turn.setRelease(slot, head + mask + 1);
    head++;
    return true;
  }

  /** Records dropped because the ring was full or sealed. */
  long dropped() {
    return dropped.sum();
  }
}
