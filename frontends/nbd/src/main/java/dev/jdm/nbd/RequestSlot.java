package dev.jdm.nbd;

import dev.jdm.nbd.protocol.NbdWire;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoCompletion;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One request of a connection, from its parsed header to its encoded reply, with everything it
 * needs kept for reuse: the kernel request, a small direct buffer for reply headers, and the payload
 * buffer it borrowed. A connection has at most {@code max-in-flight} of them; a slot sits in at most
 * one list at a time, linked through {@link #next}.
 */
final class RequestSlot implements IoCompletion, ExtentSink {
  /** Room for the longest reply header plus an error message. */
  private static final int HEAD_CAPACITY = 256;
  /** Longest extent one block status descriptor can carry (32-bit length, sector-aligned). */
  private static final long MAX_EXTENT = 0x1_0000_0000L - IoRequest.SECTOR_SIZE;
  private static final int SUBMITTING = 1;
  private static final int COMPLETED_INLINE = 2;

  final Commands commands;
  /** This slot's number in its connection, from 0. */
  final int index;
  final IoRequest io = new IoRequest();
  final ByteBuffer head = ByteBuffer.allocateDirect(HEAD_CAPACITY);
  /** Set while submit() runs, so an inline completion leaves the reply flush to the submitter. */
  final AtomicInteger phase = new AtomicInteger();
  RequestSlot next;

  // The request as parsed.
  int flags;
  int type;
  long cookie;
  long offset;
  long length;

  /** A pooled payload buffer (READ data, large WRITE data, block status extents), else null. */
  ByteBuffer data;
  /** The input chunk holding a small WRITE's payload, else null. */
  InputChunk chunk;
  /** Where the payload starts in {@link #data} or the chunk. */
  int dataOffset;
  /** A status decided while reading (an oversize WRITE whose payload was skipped), else null. */
  IoStatus early;
  /** Where a READ's reply data starts in {@link #data}: later than the data for unaligned reads. */
  int payloadAt = BufferPool.HEADER_ROOM;

  // The reply, one or two buffers.
  final ByteBuffer[] reply = new ByteBuffer[1];

  // Block status encoding state.
  private int extents;
  private int maxExtents;
  private long pendingBytes;
  private int pendingFlags;
  private long reportLimit;
  private long skipBytes;

  RequestSlot(Commands commands, int index) {
    this.commands = commands;
    this.index = index;
  }

  /** Clears the per-request state; buffers go back to where they came from. */
  void recycle(BufferPool pool) {
    if (data != null) {
      pool.give(data);
      data = null;
    }
    if (chunk != null) {
      chunk.release();
      chunk = null;
    }
    early = null;
    payloadAt = BufferPool.HEADER_ROOM;
    reply[0] = null;
  }

  // ---------------------------------------------------------------------------- completion

  /** Marks the start of a submit; see {@link #submitted()}. */
  void submitting() {
    phase.set(SUBMITTING);
  }

  /** After submit threw: whether the request had not completed (nobody answered it). */
  boolean notCompleted() {
    return phase.compareAndSet(SUBMITTING, 0);
  }

  /** After submit returned: a completion from now on is not inline and flushes itself. */
  void submitted() {
    phase.compareAndSet(SUBMITTING, 0);
  }

  @Override
  public void completed(IoRequest r) {
    commands.completed(this, r.status());
  }

  /** Called with the reply encoded: true when the submitter will flush (inline completion). */
  boolean completedInline() {
    return phase.compareAndSet(SUBMITTING, COMPLETED_INLINE);
  }

  // ------------------------------------------------------------------------------ encoding

  /** A success reply without payload (a simple reply, allowed for every command but READ). */
  void replyOk() {
    head.clear();
    head.putInt(NbdWire.SIMPLE_REPLY_MAGIC).putInt(0).putLong(cookie).flip();
    reply[0] = head;
  }

  /** The reply to a successful READ: its header written in front of the data, one buffer. */
  void replyData(boolean structured) {
    int len = (int) length;
    int start = payloadAt;
    ByteBuffer b = data;
    if (structured) {
      start -= NbdWire.CHUNK_HEADER + 8;
      b.putInt(start, NbdWire.STRUCTURED_REPLY_MAGIC)
          .putShort(start + 4, (short) NbdWire.REPLY_FLAG_DONE)
          .putShort(start + 6, (short) NbdWire.REPLY_TYPE_OFFSET_DATA)
          .putLong(start + 8, cookie)
          .putInt(start + 16, 8 + len)
          .putLong(start + 20, offset);
    } else {
      start -= NbdWire.SIMPLE_REPLY_HEADER;
      b.putInt(start, NbdWire.SIMPLE_REPLY_MAGIC).putInt(start + 4, 0).putLong(start + 8, cookie);
    }
    b.limit(payloadAt + len).position(start);
    reply[0] = b;
  }

  /** An error reply: a structured error chunk with a message when negotiated, else simple. */
  void replyError(int error, String message, boolean structured) {
    head.clear();
    if (structured) {
      byte[] m = message.getBytes(StandardCharsets.UTF_8);
      int n = Math.min(m.length, HEAD_CAPACITY - NbdWire.CHUNK_HEADER - 6);
      head.putInt(NbdWire.STRUCTURED_REPLY_MAGIC).putShort((short) NbdWire.REPLY_FLAG_DONE)
          .putShort((short) NbdWire.REPLY_TYPE_ERROR).putLong(cookie).putInt(6 + n)
          .putInt(error).putShort((short) n).put(m, 0, n);
    } else {
      head.putInt(NbdWire.SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie);
    }
    head.flip();
    reply[0] = head;
  }

  // -------------------------------------------------------------------------- block status

  /**
   * Starts a block status reply into {@code into} (the head buffer for one extent, a pooled buffer
   * otherwise); the device then reports through {@link #extent}, from {@code skip} bytes before
   * the asked offset (the start of its block).
   */
  void beginExtents(ByteBuffer into, int max, long limitBytes, int skip) {
    skipBytes = skip;
    into.clear().position(NbdWire.CHUNK_HEADER + 4);
    reply[0] = into;
    extents = 0;
    maxExtents = max;
    pendingBytes = 0;
    pendingFlags = -1;
    reportLimit = limitBytes;
  }

  @Override
  public boolean extent(long sectors, int kernelFlags) {
    int f = ((kernelFlags & ExtentSink.HOLE) != 0 ? NbdWire.STATE_HOLE : 0)
        | ((kernelFlags & ExtentSink.ZERO) != 0 ? NbdWire.STATE_ZERO : 0);
    long bytes = sectors << IoRequest.SECTOR_SHIFT;
    if (skipBytes > 0) {
      long k = Math.min(skipBytes, bytes);
      skipBytes -= k;
      bytes -= k;
      if (bytes == 0) {
        return true;
      }
    }
    if (f != pendingFlags && pendingBytes > 0 && !emitPending()) {
      return false;
    }
    pendingFlags = f;
    pendingBytes += bytes;
    return pendingBytes < reportLimit || reportLimit == Long.MAX_VALUE;
  }

  /** Writes the pending extent as descriptors; false when the reply is full. */
  private boolean emitPending() {
    ByteBuffer b = reply[0];
    long left = Math.min(pendingBytes, reportLimit);
    while (left > 0) {
      if (extents == maxExtents) {
        return false;
      }
      long n = Math.min(left, MAX_EXTENT);
      b.putInt((int) n).putInt(pendingFlags);
      extents++;
      left -= n;
    }
    pendingBytes = 0;
    return extents < maxExtents;
  }

  /** Ends the block status reply; {@code whole} is used when the device reported nothing. */
  void endExtents(long whole) {
    if (pendingBytes > 0) {
      emitPending();
    }
    ByteBuffer b = reply[0];
    if (extents == 0) {
      b.putInt((int) Math.min(whole, MAX_EXTENT)).putInt(0);
      extents = 1;
    }
    int payload = 4 + 8 * extents;
    b.putInt(0, NbdWire.STRUCTURED_REPLY_MAGIC)
        .putShort(4, (short) NbdWire.REPLY_FLAG_DONE)
        .putShort(6, (short) NbdWire.REPLY_TYPE_BLOCK_STATUS)
        .putLong(8, cookie)
        .putInt(16, payload)
        .putInt(20, NbdWire.BASE_ALLOCATION_ID);
    b.flip();
  }

  @Override
  public String toString() {
    return NbdWire.commandName(type) + " offset=" + offset + " length=" + length;
  }
}
