package dev.jdm.nbd;

import java.nio.ByteBuffer;

/**
 * Direct buffers for request payloads, kept for reuse in power-of-two size classes so that the data
 * path allocates nothing in steady state. Each buffer has {@link #HEADER_ROOM} bytes in front of
 * its data, where the reply header is written, so a READ reply goes out as one contiguous buffer.
 * Shared by every connection of a server.
 */
final class BufferPool {
  /** Bytes before the data for the longest reply header (a structured OFFSET_DATA chunk). */
  static final int HEADER_ROOM = 32;
  private static final int MIN_SHIFT = 12;
  private static final int MAX_SHIFT = 26;

  private final ByteBuffer[][] free = new ByteBuffer[MAX_SHIFT - MIN_SHIFT + 1][];
  private final int[] count = new int[free.length];

  /** A pool that keeps about {@code cacheBytes} of idle buffers per size class (at least two). */
  BufferPool(long cacheBytes) {
    for (int c = 0; c < free.length; c++) {
      long size = 1L << (c + MIN_SHIFT);
      free[c] = new ByteBuffer[(int) Math.clamp(cacheBytes / size, 2, 1024)];
    }
  }

  private static int sizeClass(int bytes) {
    int shift = 32 - Integer.numberOfLeadingZeros(Math.max(bytes, 1 << MIN_SHIFT) - 1);
    if (shift > MAX_SHIFT) {
      throw new IllegalArgumentException("buffer of " + bytes + " bytes is above the largest");
    }
    return shift - MIN_SHIFT;
  }

  /**
   * A cleared buffer with room for {@code bytes} of data after {@link #HEADER_ROOM}, or null when
   * the JVM's direct memory is exhausted (the request then fails with ENOMEM).
   */
  ByteBuffer take(int bytes) {
    int c = sizeClass(bytes);
    ByteBuffer[] stack = free[c];
    synchronized (stack) {
      int n = count[c];
      if (n > 0) {
        ByteBuffer b = stack[--n];
        stack[n] = null;
        count[c] = n;
        return b.clear();
      }
    }
    try {
      return ByteBuffer.allocateDirect(HEADER_ROOM + (1 << (c + MIN_SHIFT)));
    } catch (OutOfMemoryError directMemoryFull) {
      return null;
    }
  }

  /** Returns a buffer from {@link #take}; dropped when its class already keeps enough. */
  void give(ByteBuffer b) {
    int c = sizeClass(b.capacity() - HEADER_ROOM);
    ByteBuffer[] stack = free[c];
    synchronized (stack) {
      int n = count[c];
      if (n < stack.length) {
        stack[n] = b;
        count[c] = n + 1;
      }
    }
  }
}
