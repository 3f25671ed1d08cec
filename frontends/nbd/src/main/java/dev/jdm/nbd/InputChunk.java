package dev.jdm.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A direct buffer the request reader fills from the socket. Small WRITE payloads are used where they
 * landed, so the chunk is counted: the reader holds one reference while it fills the chunk, each
 * WRITE still using its bytes holds another, and the last release hands it back for reuse.
 */
final class InputChunk {
  final ByteBuffer buffer;
  private final AtomicInteger refs = new AtomicInteger();
  private final ChunkStack home;
  /** One view per request slot: the device moves a buffer's position while the reader fills it. */
  private final ByteBuffer[] views;
  /** Link in the stack of free chunks. */
  InputChunk next;

  InputChunk(int capacity, int slots, ChunkStack home) {
    this.buffer = ByteBuffer.allocateDirect(capacity);
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
    private final int capacity;
    private final int slots;

    ChunkStack(int capacity, int slots) {
      this.capacity = capacity;
      this.slots = slots;
    }

    void push(InputChunk c) {
      InputChunk t;
      do {
        t = top.get();
        c.next = t;
      } while (!top.compareAndSet(t, c));
    }

    /** A free chunk with one reference for the caller (single popper, so no ABA). */
    InputChunk pop() {
      InputChunk t;
      do {
        t = top.get();
        if (t == null) {
          return new InputChunk(capacity, slots, this).retain();
        }
      } while (!top.compareAndSet(t, t.next));
      t.next = null;
      return t.retain();
    }
  }
}
