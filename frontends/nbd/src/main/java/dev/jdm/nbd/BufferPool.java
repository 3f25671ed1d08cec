package dev.jdm.nbd;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * Direct buffers for request payloads and input, shared by every connection of a server, within a
 * fixed budget ({@code buffer-memory}): what clients send never makes the NBD server hold more
 * than that in buffers. Buffers come in power-of-two size classes and are kept for reuse (up to
 * {@code buffer-cache} bytes of idle ones), so the data path allocates nothing in steady state and
 * the memory stays at what the load needs. Only when a size class needs room that idle buffers of
 * other classes take are those dropped (the garbage collector frees their memory). When the budget
 * is used up, a taker first has its own connection's replies sent (they hold buffers), then waits
 * for buffers to come back, in turn with the other takers: its client is slowed down, not
 * refused; after {@link #WAIT_NANOS} it gets none (ENOMEM for its request).
 *
 * <p>Each buffer has {@link #HEADER_ROOM} bytes in front of its data, where the reply header is
 * written, so a READ reply goes out as one contiguous buffer.
 */
final class BufferPool {
  /** Bytes before the data for the longest reply header (a structured OFFSET_DATA chunk). */
  static final int HEADER_ROOM = 32;
  private static final int MIN_SHIFT = 12;
  private static final int MAX_SHIFT = 26;
  private static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(30);

  private final ByteBuffer[][] free = new ByteBuffer[MAX_SHIFT - MIN_SHIFT + 1][];
  private final int[] count = new int[free.length];
  private final long budget;
  private final long cacheBytes;
  /** Bytes of every buffer alive, handed out or kept; under {@code this}. */
  private long allocated;
  /** Bytes of the buffers kept for reuse; under {@code this}. */
  private long cached;
  /** Takers waiting for room, in the order they came; under {@code this}. */
  private final ArrayDeque<Thread> waiting = new ArrayDeque<>();
  /** Set by {@link #reserve} when it counted in room for a new buffer; under {@code this}. */
  private boolean reserved;

  /**
   * A pool holding at most {@code budget} bytes of buffers, keeping up to {@code cacheBytes} of
   * idle ones.
   */
  BufferPool(long budget, long cacheBytes) {
    this.budget = budget;
    this.cacheBytes = cacheBytes;
    for (int c = 0; c < free.length; c++) {
      free[c] = new ByteBuffer[(int) Math.clamp(budget / capacity(c) + 1, 2, 1 << 16)];
    }
  }

  private static int sizeClass(int bytes) {
    int shift = 32 - Integer.numberOfLeadingZeros(Math.max(bytes, 1 << MIN_SHIFT) - 1);
    if (shift > MAX_SHIFT) {
      throw new IllegalArgumentException("buffer of " + bytes + " bytes is above the largest");
    }
    return shift - MIN_SHIFT;
  }

  private static long capacity(int c) {
    return HEADER_ROOM + (1L << (c + MIN_SHIFT));
  }

  /** As {@link #take(int, Runnable)}, with nothing to do before waiting. */
  ByteBuffer take(int bytes) {
    return take(bytes, null);
  }

  /**
   * A cleared buffer with room for {@code bytes} of data after {@link #HEADER_ROOM}, or null when
   * none came within the wait (the request then fails with ENOMEM). When the budget is used up,
   * {@code beforeWait} runs first: the caller's connection sends its queued replies, whose buffers
   * may be the ones everybody waits for.
   */
  ByteBuffer take(int bytes, Runnable beforeWait) {
    int c = sizeClass(bytes);
    long size = capacity(c);
    synchronized (this) {
      if (waiting.isEmpty()) {
        ByteBuffer b = reserve(c, size);
        if (b != null || reserved) {
          reserved = false;
          return b != null ? b.clear() : allocate(size);
        }
      }
    }
    if (beforeWait != null) {
      beforeWait.run();
    }
    // Wait in turn: takers are served in the order they came, so none starves behind others.
    Thread me = Thread.currentThread();
    long deadline = System.nanoTime() + WAIT_NANOS;
    synchronized (this) {
      waiting.addLast(me);
      try {
        while (true) {
          if (waiting.peekFirst() == me) {
            ByteBuffer b = reserve(c, size);
            if (b != null) {
              return b.clear();
            }
            if (reserved) {
              reserved = false;
              break;
            }
          }
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return null;
          }
          try {
            TimeUnit.NANOSECONDS.timedWait(this, Math.min(left, 100_000_000L));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
          }
        }
      } finally {
        waiting.remove(me);
        notifyAll();
      }
    }
    return allocate(size);
  }

  /**
   * A kept buffer of class {@code c}, or null; then {@link #reserved} says whether room for a new
   * one was counted in (dropping kept buffers of other classes if need be). Under the lock.
   */
  private ByteBuffer reserve(int c, long size) {
    ByteBuffer b = pop(c);
    if (b != null) {
      return b;
    }
    if (allocated + size > budget) {
      dropCachedFor(size);
    }
    if (allocated + size <= budget) {
      allocated += size;
      reserved = true;
    }
    return null;
  }

  /** A new buffer for room already counted in; null (and the room given back) when none. */
  private ByteBuffer allocate(long size) {
    try {
      return ByteBuffer.allocateDirect((int) size);
    } catch (OutOfMemoryError directMemoryFull) {
      synchronized (this) {
        allocated -= size;
        notifyAll();
      }
      return null;
    }
  }

  private ByteBuffer pop(int c) {
    int n = count[c];
    if (n == 0) {
      return null;
    }
    ByteBuffer b = free[c][--n];
    free[c][n] = null;
    count[c] = n;
    cached -= capacity(c);
    return b;
  }

  /** Drops kept buffers of any class until {@code size} more fits the budget, or none is kept. */
  private void dropCachedFor(long size) {
    for (int c = free.length - 1; c >= 0 && allocated + size > budget; c--) {
      while (allocated + size > budget && pop(c) != null) {
        allocated -= capacity(c);
      }
    }
  }

  /** Returns a buffer from {@link #take}: kept for reuse, or dropped when enough are kept. */
  synchronized void give(ByteBuffer b) {
    int c = sizeClass(b.capacity() - HEADER_ROOM);
    long size = capacity(c);
    int n = count[c];
    if (n < free[c].length && cached + size <= cacheBytes) {
      free[c][n] = b;
      count[c] = n + 1;
      cached += size;
    } else {
      allocated -= size;
    }
    notifyAll();
  }

  /** Bytes of buffers alive now, handed out or kept (tests and diagnostics). */
  synchronized long allocated() {
    return allocated;
  }
}
