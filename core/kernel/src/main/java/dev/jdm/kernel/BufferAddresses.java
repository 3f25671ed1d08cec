package dev.jdm.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;

/**
 * The native addresses of direct buffers, for backing devices that hand them to C (pread, librbd).
 * Asking a MemorySegment for a buffer's address allocates, and the JIT does not always remove it;
 * frontends reuse pooled buffers, so each thread remembers the buffers it did I/O on and a lookup
 * by identity finds almost every one. Weak references keep no buffer alive.
 */
final class BufferAddresses {
  private static final int SIZE = 256;
  private static final ThreadLocal<BufferAddresses> OF_THREAD =
      ThreadLocal.withInitial(BufferAddresses::new);

  private final Object[] buffers = new Object[SIZE];
  private final long[] bases = new long[SIZE];

  private BufferAddresses() {}

  /** The native address of byte 0 of direct buffer {@code b}, whatever its position. */
  static long base(ByteBuffer b) {
    return OF_THREAD.get().of(b);
  }

  private long of(ByteBuffer b) {
    int i = System.identityHashCode(b) & (SIZE - 1);
    if (buffers[i] instanceof WeakReference<?> r && r.get() == b) {
      return bases[i];
    }
    long base = MemorySegment.ofBuffer(b).address() - b.position();
    buffers[i] = new WeakReference<>(b);
    bases[i] = base;
    return base;
  }
}
