package dev.jdm.nbd.client;

import dev.jdm.nbd.protocol.NbdWire;
import dev.jdm.nbd.protocol.ProtocolException;
import dev.jdm.nbd.protocol.Transport;
import dev.jdm.spi.IoRequest;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads one connection's replies (proto.md "Transmission"): simple replies and structured reply
 * chunks, checked against the job each names, data read straight into the request's buffer.
 * Anything that does not fit the request it names is a {@link ProtocolException}: the server is
 * answering garbage and the connection is dropped.
 */
final class ReplyReader {
  private static final Logger LOG = LoggerFactory.getLogger(ReplyReader.class);
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 * 1024);
  /** Largest chunk payload read into memory (block status, error messages). */
  private static final int MAX_CHUNK = 4 << 20;

  private final ClientConnection connection;
  /** Payloads at least this long skip the read-ahead buffer. */
  private static final int DIRECT_READ = 32 * 1024;

  private final ByteBuffer head = ByteBuffer.allocateDirect(NbdWire.CHUNK_HEADER);
  /** Bytes read ahead of the reply being decoded, between position and limit. */
  private final ByteBuffer in = ByteBuffer.allocateDirect(64 * 1024);
  private ByteBuffer scratch = ByteBuffer.allocateDirect(4096);
  private Transport t;
  private int allocationContext;

  ReplyReader(ClientConnection connection) {
    this.connection = connection;
  }

  /** Reads replies from {@code transport} until it fails; never returns normally. */
  void run(Transport transport, ClientHandshake.Export export) throws IOException {
    this.t = transport;
    in.clear().flip();
    this.allocationContext = export.allocationContext();
    while (true) {
      head.clear().limit(NbdWire.SIMPLE_REPLY_HEADER);
      fill(head);
      int magic = head.getInt(0);
      if (magic == NbdWire.SIMPLE_REPLY_MAGIC) {
        simple(head.getInt(4), head.getLong(8));
      } else if (magic == NbdWire.STRUCTURED_REPLY_MAGIC && export.structured()) {
        head.limit(NbdWire.CHUNK_HEADER);
        fill(head);
        chunk(head.getShort(4) & 0xffff, head.getShort(6) & 0xffff, head.getLong(8),
            head.getInt(16) & 0xffffffffL);
      } else {
        throw new ProtocolException(String.format("reply with unknown magic 0x%08x", magic));
      }
    }
  }

  private void simple(int error, long cookie) throws IOException {
    Job j = connection.lookup(cookie);
    int part = (int) (cookie & 0xffffff);
    if (error == 0 && j.cmd == NbdWire.CMD_READ) {
      data(j, j.partOffset(part), j.partLength(part));
    }
    if (error != 0) {
      j.fail(NbdWire.status(error));
    }
    partDone(j, cookie);
  }

  private void chunk(int flags, int type, long cookie, long length) throws IOException {
    Job j = connection.lookup(cookie);
    int part = (int) (cookie & 0xffffff);
    long from = j.partOffset(part);
    long to = from + j.partLength(part);
    switch (type) {
      case NbdWire.REPLY_TYPE_NONE -> {
        if (length != 0 || (flags & NbdWire.REPLY_FLAG_DONE) == 0) {
          throw new ProtocolException("NONE chunk with " + length + " bytes or without DONE");
        }
      }
      case NbdWire.REPLY_TYPE_OFFSET_DATA -> {
        if (j.cmd != NbdWire.CMD_READ || length <= 8) {
          throw new ProtocolException("OFFSET_DATA chunk of " + length + " bytes for "
              + NbdWire.commandName(j.cmd));
        }
        long off = small(8).getLong(0);
        long n = length - 8;
        inside(off, n, from, to);
        data(j, off, n);
      }
      case NbdWire.REPLY_TYPE_OFFSET_HOLE -> {
        if (j.cmd != NbdWire.CMD_READ || length != 12) {
          throw new ProtocolException("OFFSET_HOLE chunk of " + length + " bytes for "
              + NbdWire.commandName(j.cmd));
        }
        ByteBuffer b = small(12);
        long off = b.getLong(0);
        long n = b.getInt(8) & 0xffffffffL;
        inside(off, n, from, to);
        zeros(j, off, n);
      }
      case NbdWire.REPLY_TYPE_BLOCK_STATUS -> {
        if (j.cmd != NbdWire.CMD_BLOCK_STATUS || length < 12 || (length - 4) % 8 != 0
            || length > MAX_CHUNK) {
          throw new ProtocolException("BLOCK_STATUS chunk of " + length + " bytes for "
              + NbdWire.commandName(j.cmd));
        }
        ByteBuffer b = small((int) length);
        if (b.getInt(0) == allocationContext) {
          for (int i = 4; i < length; i += 8) {
            j.call.add(b.getInt(i) & 0xffffffffL, b.getInt(i + 4));
          }
        }
      }
      default -> {
        if ((type & NbdWire.REPLY_TYPE_ERROR_BIT) == 0) {
          throw new ProtocolException("unknown reply chunk type " + type);
        }
        error(j, type, length);
      }
    }
    if ((flags & NbdWire.REPLY_FLAG_DONE) != 0) {
      partDone(j, cookie);
    }
  }

  private void error(Job j, int type, long length) throws IOException {
    if (length < 6 || length > MAX_CHUNK) {
      throw new ProtocolException("error chunk of " + length + " bytes");
    }
    ByteBuffer b = small((int) length);
    int error = b.getInt(0);
    int messageLength = b.getShort(4) & 0xffff;
    if (error == 0 || 6 + messageLength > length
        || type == NbdWire.REPLY_TYPE_ERROR && 6 + messageLength != length
        || type == NbdWire.REPLY_TYPE_ERROR_OFFSET && 6 + messageLength + 8 != length) {
      throw new ProtocolException("malformed error chunk (error " + error + ", message of "
          + messageLength + " bytes in " + length + ")");
    }
    if (LOG.isDebugEnabled()) {
      byte[] text = new byte[messageLength];
      b.get(6, text);
      LOG.debug("{}: {} failed: error {}: {}", connection, NbdWire.commandName(j.cmd), error,
          new String(text, StandardCharsets.UTF_8));
    }
    j.fail(NbdWire.status(error));
  }

  private static void inside(long off, long n, long from, long to) throws ProtocolException {
    if (off < from || n > to - off) {
      throw new ProtocolException("reply chunk for bytes " + off + "+" + n
          + " outside the request's " + from + ".." + to);
    }
  }

  private void partDone(Job j, long cookie) {
    if (--j.remaining == 0) {
      connection.repliesDone(j, (int) (cookie >>> 32));
    }
  }

  /** Reads {@code n} bytes for the export's offset {@code off} into the request's buffer. */
  private void data(Job j, long off, long n) throws IOException {
    try {
      fill(j.window(off, n));
    } finally {
      j.restore();
    }
  }

  private static void zeros(Job j, long off, long n) {
    IoRequest r = j.request;
    ByteBuffer d = r.data();
    int at = r.dataOffset() + (int) (off - j.offset);
    for (long left = n; left > 0; ) {
      int k = (int) Math.min(left, ZEROS.capacity());
      d.put(at, ZEROS, 0, k);
      at += k;
      left -= k;
    }
  }

  /** Reads the next {@code n} bytes of a chunk into the scratch buffer, from index 0. */
  private ByteBuffer small(int n) throws IOException {
    if (scratch.capacity() < n) {
      scratch = ByteBuffer.allocateDirect(Math.max(n, scratch.capacity() * 2));
    }
    scratch.clear().limit(n);
    fill(scratch);
    return scratch;
  }

  /**
   * Fills {@code dst} from what was read ahead, reading more as needed: one read takes in as many
   * replies as the socket holds, so small replies cost a copy instead of a system call each. A
   * large payload goes from the socket straight into its buffer.
   */
  private void fill(ByteBuffer dst) throws IOException {
    while (dst.hasRemaining()) {
      if (in.hasRemaining()) {
        int n = Math.min(in.remaining(), dst.remaining());
        int limit = in.limit();
        dst.put(in.limit(in.position() + n));
        in.limit(limit);
      } else if (dst.remaining() >= DIRECT_READ) {
        if (t.read(dst) < 0) {
          throw new EOFException("the server closed the connection");
        }
      } else {
        in.clear();
        int n = t.read(in);
        in.flip();
        if (n < 0) {
          throw new EOFException("the server closed the connection");
        }
      }
    }
  }

  /** What this reader is for, in messages. */
  @Override
  public String toString() {
    return connection.toString();
  }
}
