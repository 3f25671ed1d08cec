package dev.jdm.kernel;

import java.nio.ByteBuffer;

/**
 * The copier's direct buffers, pooled by size: a copy of a 4 KiB chunk (a snapshot's
 * copy-on-write) takes a 4 KiB buffer, not a whole copier chunk, so thousands of small copies
 * neither allocate nor wait on the JVM's direct-memory reservation.
 */
final class ChunkBuffers {
  private static final int SMALLEST = 4096;
  private final int largest;
  /** One pool per power of two from 4 KiB, the last holding buffers of {@link #largest}. */
  private final FreeList<ByteBuffer>[] pools;

  @SuppressWarnings("unchecked")
  ChunkBuffers(int largest, int keep) {
    this.largest = largest;
    int classes = 1;
    while (size(classes - 1) < largest) {
      classes++;
    }
    pools = new FreeList[classes];
    for (int i = 0; i < classes; i++) {
      int bytes = size(i);
      pools[i] = new FreeList<>(keep, () -> ByteBuffer.allocateDirect(bytes));
    }
  }

  private int size(int sizeClass) {
    long s = (long) SMALLEST << sizeClass;
    return (int) Math.min(s, largest);
  }

  private int sizeClass(long bytes) {
    int c = 0;
    while (size(c) < Math.min(bytes, largest)) {
      c++;
    }
    return c;
  }

  /** A buffer of at least {@code bytes} (at most the copier's chunk), from its pool. */
  ByteBuffer take(long bytes) {
    return pools[sizeClass(bytes)].take();
  }

  /** Returns a buffer taken here. */
  void give(ByteBuffer b) {
    pools[sizeClass(b.capacity())].give(b);
  }
}
