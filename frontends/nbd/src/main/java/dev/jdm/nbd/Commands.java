package dev.jdm.nbd;

import dev.jdm.nbd.protocol.NbdWire;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.PartialWrites;
import dev.jdm.kernel.SyncIo;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transmission phase's commands (proto.md "Request types"), as nbdkit's {@code protocol.c}:
 * what the wire alone decides (known command, valid flags, payload within {@code max-payload},
 * FLUSH without a range), then each command turned into kernel requests. Whether a request may
 * run (read-only, bounds, lengths, what the device supports) is the kernel's one decision
 * ({@link MappedDevice#submit}, {@link MappedDevice#check}); this class only maps its answer to the
 * wire. Replies are encoded into the slot and queued as requests complete.
 *
 * <p>Clients that agreed on block sizes (NBD_INFO_BLOCK_SIZE asked for in NBD_OPT_GO) get EINVAL
 * for requests not aligned to the minimum block, as they promised not to send them; the others
 * are served, as proto.md says a server SHOULD: unaligned reads read the whole blocks around,
 * unaligned writes and zeroes read-modify-write the edge blocks under their locks.
 */
final class Commands {
  private static final Logger LOG = LoggerFactory.getLogger(Commands.class);
  /** Most descriptors in one block status reply (proto.md allows up to 2^20). */
  private static final int MAX_EXTENTS = 64 * 1024;
  private static final int SECTOR = IoRequest.SECTOR_SIZE;

  private final String peer;
  private final BufferPool pool;
  private final int maxPayload;
  private Session session;
  private Replies replies;
  /** Sends the queued replies: run before waiting for buffers, which they may hold. */
  private Runnable flushReplies;

  Commands(String peer, BufferPool pool, int maxPayload) {
    this.peer = peer;
    this.pool = pool;
    this.maxPayload = maxPayload;
  }

  /** Starts the transmission phase of {@code s}, answering through {@code r}. */
  void begin(Session s, Replies r) {
    this.session = s;
    this.replies = r;
    this.flushReplies = r::flush;
  }

  /** Runs one request, or answers it at once when the wire already says no. */
  void start(RequestSlot s) {
    Session ss = session;
    MappedDevice dev = ss.device();
    if (s.early != null) {
      fail(s, s.early, s.early == IoStatus.ENOMEM
          ? "no memory for a WRITE of " + s.length + " bytes"
          : "WRITE payload of " + s.length + " bytes is above the maximum of " + maxPayload);
      return;
    }
    int bad = s.flags & ~allowedFlags(s.type, ss);
    if (bad != 0) {
      fail(s, IoStatus.EINVAL, String.format("flags 0x%x are not valid on %s", bad,
          NbdWire.commandName(s.type)));
      return;
    }
    switch (s.type) {
      case NbdWire.CMD_READ -> read(s, dev, ss);
      case NbdWire.CMD_WRITE -> write(s, dev, ss);
      case NbdWire.CMD_FLUSH -> {
        if (s.offset != 0 || s.length != 0) {
          fail(s, IoStatus.EINVAL, "FLUSH must have offset and length 0");
        } else {
          s.io.prepare(IoOp.FLUSH, 0, 0, 0, null, 0, s);
          submit(s, dev);
        }
      }
      case NbdWire.CMD_TRIM -> trim(s, dev, ss);
      case NbdWire.CMD_WRITE_ZEROES -> zeroes(s, dev, ss);
      case NbdWire.CMD_CACHE -> {
        if (unalignedRefused(s, dev, ss)) {
          return;
        }
        IoStatus st = dev.check(IoOp.READ, first(s, dev) >>> IoRequest.SECTOR_SHIFT,
            span(s, dev));
        if (st.ok()) {
          s.replyOk();
          replies.push(s);
        } else {
          failed(s, st);
        }
      }
      case NbdWire.CMD_BLOCK_STATUS -> blockStatus(s, dev, ss);
      default -> fail(s, IoStatus.EINVAL, "unknown command " + s.type);
    }
  }

  /**
   * The flags each command may carry. FUA is taken on every command, as proto.md allows once
   * negotiated; on a read-only export the kernel then answers a write with EPERM, whatever flags.
   */
  private static int allowedFlags(int type, Session ss) {
    return NbdWire.CMD_FLAG_FUA | switch (type) {
      case NbdWire.CMD_READ -> ss.structured() ? NbdWire.CMD_FLAG_DF : 0;
      case NbdWire.CMD_WRITE_ZEROES -> NbdWire.CMD_FLAG_NO_HOLE | NbdWire.CMD_FLAG_FAST_ZERO;
      case NbdWire.CMD_BLOCK_STATUS -> NbdWire.CMD_FLAG_REQ_ONE;
      default -> 0;
    };
  }

  private static int fua(RequestSlot s) {
    return (s.flags & NbdWire.CMD_FLAG_FUA) != 0 ? IoRequest.FUA : 0;
  }

  // ------------------------------------------------------------------------------ alignment

  private static boolean aligned(RequestSlot s, MappedDevice dev) {
    return ((s.offset | s.length) & (Exports.minimumBlock(dev) - 1)) == 0;
  }

  /** Answers EINVAL for an unaligned request of a client that agreed on block sizes. */
  private boolean unalignedRefused(RequestSlot s, MappedDevice dev, Session ss) {
    if (!ss.blockSizesAgreed() || aligned(s, dev)) {
      return false;
    }
    fail(s, IoStatus.EINVAL, NbdWire.commandName(s.type) + " offset "
        + Long.toUnsignedString(s.offset) + " length " + s.length + " is not aligned to the "
        + Exports.minimumBlock(dev) + " byte minimum block agreed on");
    return true;
  }

  /** The start of the first whole block the request touches. */
  private static long first(RequestSlot s, MappedDevice dev) {
    return s.offset & -Exports.minimumBlock(dev);
  }

  /** Bytes of the whole blocks the request touches (0 for a request of length 0). */
  private static long span(RequestSlot s, MappedDevice dev) {
    if (s.length == 0) {
      return 0;
    }
    long block = Exports.minimumBlock(dev);
    long head = s.offset - first(s, dev);
    return (head + s.length + block - 1) & -block;
  }

  // ------------------------------------------------------------------------------ commands

  /**
   * READ into a pooled buffer; the reply goes out from it. An unaligned read reads the whole
   * blocks around and replies from the asked byte on.
   */
  private void read(RequestSlot s, MappedDevice dev, Session ss) {
    if (unalignedRefused(s, dev, ss) || tooLong(s, span(s, dev))) {
      return;
    }
    int span = (int) span(s, dev);
    ByteBuffer b = pool.take(span, flushReplies);
    if (b == null) {
      fail(s, IoStatus.ENOMEM, "no memory for a READ of " + s.length + " bytes");
      return;
    }
    s.data = b;
    s.payloadAt = BufferPool.HEADER_ROOM + (int) (s.offset - first(s, dev));
    s.io.prepare(IoOp.READ, 0, first(s, dev) >>> IoRequest.SECTOR_SHIFT, span, b,
        BufferPool.HEADER_ROOM, s);
    submit(s, dev);
  }

  private boolean tooLong(RequestSlot s, long span) {
    if (span <= maxPayload) {
      return false;
    }
    fail(s, IoStatus.EINVAL, NbdWire.commandName(s.type) + " of " + s.length + " bytes"
        + (span != s.length ? " (" + span + " with the whole blocks around)" : "")
        + " is above the maximum payload of " + maxPayload);
    return true;
  }

  /** WRITE from where the payload landed; unaligned ones by read-modify-write. */
  private void write(RequestSlot s, MappedDevice dev, Session ss) {
    if (unalignedRefused(s, dev, ss)) {
      return;
    }
    ByteBuffer src = s.data != null ? s.data : s.chunk.view(s.index);
    if (aligned(s, dev)) {
      s.io.prepare(IoOp.WRITE, fua(s), s.offset >>> IoRequest.SECTOR_SHIFT, (int) s.length, src,
          s.dataOffset, s);
      submit(s, dev);
      return;
    }
    if (tooLong(s, span(s, dev))) {
      return;
    }
    answer(s, patch(dev, s.offset, (int) s.length, src, s.dataOffset, fua(s)));
  }

  /**
   * Read-modify-write of bytes that do not cover whole sectors, waiting on this thread: a pooled
   * buffer holds the sectors around them. {@code src} null writes zeros.
   */
  private IoStatus patch(MappedDevice dev, long offset, int length, ByteBuffer src, int srcOffset,
      int flags) {
    ByteBuffer scratch = pool.take(PartialWrites.span(offset, length), flushReplies);
    if (scratch == null) {
      return IoStatus.ENOMEM;
    }
    try {
      return PartialWrites.write(new SyncIo(), dev, offset, length, src, srcOffset, scratch,
          BufferPool.HEADER_ROOM, flags);
    } finally {
      pool.give(scratch);
    }
  }

  /** TRIM, a hint: an unaligned one trims the whole blocks inside its range, if any. */
  private void trim(RequestSlot s, MappedDevice dev, Session ss) {
    if (unalignedRefused(s, dev, ss)) {
      return;
    }
    if (aligned(s, dev)) {
      s.io.prepareRange(IoOp.DISCARD, fua(s), s.offset >>> IoRequest.SECTOR_SHIFT, s.length, s);
      submit(s, dev);
      return;
    }
    IoStatus st = dev.check(IoOp.DISCARD, first(s, dev) >>> IoRequest.SECTOR_SHIFT,
        span(s, dev));
    long block = Exports.minimumBlock(dev);
    long from = (s.offset + block - 1) & -block;
    long to = (s.offset + s.length) & -block;
    if (st.ok() && from < to) {
      st = new SyncIo().runRange(dev, IoOp.DISCARD, fua(s), from >>> IoRequest.SECTOR_SHIFT,
          (to - from) >>> IoRequest.SECTOR_SHIFT);
    }
    answer(s, st);
  }

  /** WRITE_ZEROES; an unaligned one zeroes whole blocks and read-modify-writes its edges. */
  private void zeroes(RequestSlot s, MappedDevice dev, Session ss) {
    if (unalignedRefused(s, dev, ss)) {
      return;
    }
    int flags = fua(s)
        | ((s.flags & NbdWire.CMD_FLAG_NO_HOLE) != 0 ? IoRequest.NO_UNMAP : 0)
        | ((s.flags & NbdWire.CMD_FLAG_FAST_ZERO) != 0 ? IoRequest.FAST_ZERO : 0);
    if (aligned(s, dev)) {
      s.io.prepareRange(IoOp.WRITE_ZEROES, flags, s.offset >>> IoRequest.SECTOR_SHIFT, s.length,
          s);
      submit(s, dev);
      return;
    }
    IoStatus st = dev.check(IoOp.WRITE_ZEROES, first(s, dev) >>> IoRequest.SECTOR_SHIFT,
        span(s, dev));
    long end = s.offset + s.length;
    long from = (s.offset + SECTOR - 1) & -SECTOR;
    long to = end & -SECTOR;
    if (st.ok() && from < to) {
      st = new SyncIo().runRange(dev, IoOp.WRITE_ZEROES, flags,
          from >>> IoRequest.SECTOR_SHIFT, (to - from) >>> IoRequest.SECTOR_SHIFT);
    }
    if (st.ok() && from >= to) {
      st = patch(dev, s.offset, (int) s.length, null, 0, fua(s));
    } else {
      if (st.ok() && s.offset < from) {
        st = patch(dev, s.offset, (int) (from - s.offset), null, 0, fua(s));
      }
      if (st.ok() && to < end) {
        st = patch(dev, to, (int) (end - to), null, 0, fua(s));
      }
    }
    answer(s, st);
  }

  private void blockStatus(RequestSlot s, MappedDevice dev, Session ss) {
    if (!ss.blockStatus()) {
      fail(s, IoStatus.EINVAL, "BLOCK_STATUS needs base:allocation selected with"
          + " NBD_OPT_SET_META_CONTEXT");
      return;
    }
    // Only the start must be aligned for a client that agreed on block sizes: a length that
    // is not is rounded up, as the reply may describe more than was asked.
    long block = Exports.minimumBlock(dev);
    if (ss.blockSizesAgreed() && (s.offset & (block - 1)) != 0) {
      unalignedRefused(s, dev, ss);
      return;
    }
    long first = first(s, dev);
    long span = span(s, dev);
    IoStatus st = dev.check(IoOp.READ, first >>> IoRequest.SECTOR_SHIFT, span);
    if (!st.ok()) {
      failed(s, st);
      return;
    }
    long len = s.length;
    int skip = (int) (s.offset - first);
    if ((s.flags & NbdWire.CMD_FLAG_REQ_ONE) != 0) {
      s.beginExtents(s.head, 1, len, skip);
    } else {
      ByteBuffer b = pool.take(NbdWire.CHUNK_HEADER + 4 + 8 * MAX_EXTENTS, flushReplies);
      if (b == null) {
        fail(s, IoStatus.ENOMEM, "no memory for a block status reply");
        return;
      }
      s.data = b;
      s.beginExtents(b, MAX_EXTENTS, Long.MAX_VALUE, skip);
    }
    dev.blockStatus(first >>> IoRequest.SECTOR_SHIFT, span >>> IoRequest.SECTOR_SHIFT, s);
    s.endExtents(len);
    replies.push(s);
  }

  // ------------------------------------------------------------------------------ answers

  private void submit(RequestSlot s, MappedDevice dev) {
    s.submitting();
    try {
      dev.submit(s.io);
    } catch (RuntimeException e) {
      // A bug below us: the request will never complete, so answer it here and keep serving.
      if (s.notCompleted()) {
        LOG.error("{}: {} on {} failed", peer, s, dev.name(), e);
        fail(s, IoStatus.EIO, NbdWire.commandName(s.type) + " failed inside the server");
      }
      return;
    }
    s.submitted();
  }

  /** Answers a request that ran on this thread with its status. */
  private void answer(RequestSlot s, IoStatus st) {
    if (st.ok()) {
      s.replyOk();
      replies.push(s);
    } else {
      failed(s, st);
    }
  }

  /** Answers with the error the kernel gave. */
  private void failed(RequestSlot s, IoStatus st) {
    fail(s, st, NbdWire.commandName(s.type) + " offset " + Long.toUnsignedString(s.offset)
        + " length " + s.length + " failed: " + st);
  }

  private void fail(RequestSlot s, IoStatus status, String message) {
    s.replyError(NbdWire.error(status), message, session.structured());
    replies.push(s);
  }

  /** The device finished a request: encode the reply and queue it. */
  void completed(RequestSlot s, IoStatus status) {
    if (status.ok()) {
      if (s.type == NbdWire.CMD_READ) {
        s.replyData(session.structured());
      } else {
        s.replyOk();
      }
      replies.push(s);
    } else {
      failed(s, status);
    }
    if (!s.completedInline()) {
      replies.flush();
    }
  }
}
