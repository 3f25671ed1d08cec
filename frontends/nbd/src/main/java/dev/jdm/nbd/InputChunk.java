package dev.jdm.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A buffer the request reader fills from the socket, taken from the server's {@link BufferPool}.
 * Small WRITE payloads are used where they landed, so the chunk is counted: the reader holds one
 * reference while it fills the chunk, each WRITE still using its bytes holds another, and the last
 * release hands it back to its connection's stack for reuse; when the connection goes quiet, the
 * stack gives its chunks back to the pool.
 */
final class InputChunk {
  /** The chunk's bytes, from index 0. */
  final ByteBuffer buffer;
  private final ByteBuffer pooled;
  private final AtomicInteger refs = new AtomicInteger();
  private final ChunkStack home;
  /** One view per request slot: the device moves a buffer's position while the reader fills it. */
  private final ByteBuffer[] views;
  /** Link in the stack of free chunks. */
  InputChunk next;

  private InputChunk(ByteBuffer pooled, int capacity, int slots, ChunkStack home) {
    this.pooled = pooled;
    this.buffer = pooled.slice(BufferPool.HEADER_ROOM, capacity);
    this.views = new ByteBuffer[slots];
    this.home = home;
  }

  /**
   * The chunk's bytes as slot {@code slot} may use them, made once per slot and chunk: each slot's
   * own view, so slots doing I/O at once never share a position or limit.
   */
  ByteBuffer view(int slot) {
    ByteBuffer v = views[slot];
    if (v == null) {
      v = buffer.duplicate();
      views[slot] = v;
    }
    return v.clear();
  }

  InputChunk retain() {
    refs.incrementAndGet();
    return this;
  }

  /** Whether the reader is the only user, so the chunk may be compacted in place. */
  boolean unshared() {
    return refs.get() == 1;
  }

  void release() {
    if (refs.decrementAndGet() == 0) {
      home.push(this);
    }
  }

  /** Free chunks of one connection: pushed by any thread, popped only by the reader. */
  static final class ChunkStack {
    private final AtomicReference<InputChunk> top = new AtomicReference<>();
    private final BufferPool pool;
    private final int capacity;
    private final int slots;
    private final Runnable beforeWait;

    /**
     * Chunks of {@code capacity} bytes from {@code pool}; {@code beforeWait} sends the
     * connection's replies when the pool makes the reader wait.
     */
    ChunkStack(BufferPool pool, int capacity, int slots, Runnable beforeWait) {
      this.pool = pool;
      this.capacity = capacity;
      this.slots = slots;
      this.beforeWait = beforeWait;
    }

    void push(InputChunk c) {
      InputChunk t;
      do {
        t = top.get();
        c.next = t;
      } while (!top.compareAndSet(t, c));
    }

    /** A free chunk with one reference for the caller (single popper, so no ABA). */
    InputChunk pop() throws IOException {
      InputChunk t;
      do {
        t = top.get();
        if (t == null) {
          ByteBuffer b = pool.take(capacity, beforeWait);
          if (b == null) {
            throw new IOException("no buffer memory to read requests into (buffer-memory)");
          }
          return new InputChunk(b, capacity, slots, this).retain();
        }
      } while (!top.compareAndSet(t, t.next));
      t.next = null;
      return t.retain();
    }

    /** Gives every free chunk's buffer back to the pool (the reader is the only popper). */
    void drain() {
      for (InputChunk t; (t = top.getAndSet(null)) != null; ) {
        for (InputChunk c = t; c != null; c = c.next) {
          pool.give(c.pooled);
        }
      }
    }
  }
}
