package dev.jdm.nbd;

import dev.jdm.nbd.protocol.NbdWire;
import dev.jdm.nbd.protocol.ProtocolException;
import dev.jdm.nbd.protocol.Transport;
import dev.jdm.spi.IoStatus;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Parses requests off the socket in batches (proto.md "Request message"): one read fetches as many
 * headers as the client has sent, and small WRITE payloads stay where they landed in the input
 * chunk. A large WRITE payload is read straight into its own pooled buffer, and the read after it
 * asks for one header only, so no payload is copied twice. Used by one thread at a time.
 */
final class RequestReader {
  /** Bytes of one input chunk. */
  static final int CHUNK = 256 * 1024;
  /** Most bytes asked of one socket read, and the largest WRITE payload kept in a chunk. */
  static final int WINDOW = 64 * 1024;

  private final Transport transport;
  private final Slots slots;
  private final BufferPool pool;
  private final int maxPayload;
  private final Runnable beforeWait;
  private final InputChunk.ChunkStack chunks;
  /** Where a quiet connection's next bytes land: a few requests' worth, not a whole chunk. */
  private final ByteBuffer firstBytes = ByteBuffer.allocateDirect(4096);
  private InputChunk chunk;
  private int rpos;
  private int wpos;
  /** After a large WRITE: the next read asks for a header only. */
  private boolean headerOnly;
  /** Whether the last request moved a large payload: the next one likely follows closely. */
  private boolean largeLast;
  private boolean ended;
  private IOException failure;

  /**
   * A reader of requests from {@code transport}; {@code beforeWait} sends the connection's queued
   * replies when the buffer pool makes the reader wait.
   */
  RequestReader(Transport transport, Slots slots, BufferPool pool, int maxPayload,
      int maxInFlight, Runnable beforeWait) {
    this.transport = transport;
    this.slots = slots;
    this.pool = pool;
    this.maxPayload = maxPayload;
    this.beforeWait = beforeWait;
    this.chunks = new InputChunk.ChunkStack(pool, CHUNK, maxInFlight, beforeWait);
  }

  /** Whether the client sent NBD_CMD_DISC or closed: nothing more will come. */
  boolean ended() {
    return ended;
  }

  /** Why the input ended early (a broken request, a client gone mid-request), else null. */
  IOException failure() {
    return failure;
  }

  /**
   * Blocks until at least one request has arrived and returns every complete one read so far,
   * linked through {@link RequestSlot#next}; null once the input has ended, or when a polling
   * transport got nothing for {@code idleNanos} (then {@link #ended()} is false).
   *
   * A request that leaves the stream unparseable, or a client gone in the middle of one, ends the
   * input; {@link #failure()} then says why.
   */
  RequestSlot read(long idleNanos) {
    RequestSlot head = null;
    RequestSlot tail = null;
    while (!ended) {
      while (wpos - rpos >= NbdWire.REQUEST_HEADER) {
        RequestSlot s = slots.take(head == null);
        if (s == null) {
          return head;
        }
        boolean more;
        try {
          more = parse(s);
        } catch (IOException e) {
          more = false;
          failure = e;
        }
        if (!more) {
          // Requests before a DISC or a broken one were received whole: they still run.
          slots.giveBack(s);
          ended = true;
          return head;
        }
        if (head == null) {
          head = s;
        } else {
          tail.next = s;
        }
        tail = s;
      }
      if (head != null) {
        return head;
      }
      try {
        if (!fill(idleNanos)) {
          return null;
        }
      } catch (IOException e) {
        failure = e;
        ended = true;
      }
    }
    return head;
  }

  /** Fills {@code s} from the header at rpos (and its payload); false for NBD_CMD_DISC. */
  private boolean parse(RequestSlot s) throws IOException {
    ByteBuffer b = chunk.buffer;
    int magic = b.getInt(rpos);
    if (magic != NbdWire.REQUEST_MAGIC) {
      throw new ProtocolException(String.format("bad request magic 0x%08x", magic));
    }
    s.flags = b.getShort(rpos + 4) & 0xffff;
    s.type = b.getShort(rpos + 6) & 0xffff;
    s.cookie = b.getLong(rpos + 8);
    s.offset = b.getLong(rpos + 16);
    s.length = b.getInt(rpos + 24) & 0xffffffffL;
    s.next = null;
    rpos += NbdWire.REQUEST_HEADER;
    if (s.type == NbdWire.CMD_DISC) {
      return false;
    }
    largeLast = (s.type == NbdWire.CMD_READ || s.type == NbdWire.CMD_WRITE)
        && s.length > WINDOW;
    if (s.type == NbdWire.CMD_WRITE) {
      payload(s);
    }
    return true;
  }

  private void payload(RequestSlot s) throws IOException {
    long len = s.length;
    if (len > maxPayload) {
      long limit = NbdConfig.skipLimit(maxPayload);
      if (len > limit) {
        throw new ProtocolException("WRITE payload of " + len + " bytes is above the "
            + limit + " this server skips; the length is more likely garbage than data");
      }
      // Refused, but the stream stays in step: read past the payload, answer EINVAL.
      s.early = IoStatus.EINVAL;
      skip(len);
      return;
    }
    int n = (int) len;
    int avail = wpos - rpos;
    if (n <= WINDOW && avail >= n) {
      s.chunk = chunk.retain();
      s.dataOffset = rpos;
      rpos += n;
      return;
    }
    ByteBuffer d = pool.take(n, beforeWait);
    if (d == null) {
      s.early = IoStatus.ENOMEM;
      skip(len);
      return;
    }
    s.data = d;
    s.dataOffset = BufferPool.HEADER_ROOM;
    int have = Math.min(avail, n);
    d.put(BufferPool.HEADER_ROOM, chunk.buffer, rpos, have);
    rpos += have;
    d.limit(BufferPool.HEADER_ROOM + n).position(BufferPool.HEADER_ROOM + have);
    transport.expect(true);
    while (d.hasRemaining()) {
      if (transport.read(d) < 0) {
        throw new EOFException("client closed in the middle of a WRITE payload");
      }
    }
    headerOnly = n > WINDOW;
  }

  /** Drops {@code n} payload bytes of a request that is refused. */
  private void skip(long n) throws IOException {
    while (true) {
      int take = (int) Math.min(n, wpos - rpos);
      rpos += take;
      n -= take;
      if (n == 0) {
        return;
      }
      fill(Long.MAX_VALUE);
      if (ended) {
        throw new EOFException("client closed in the middle of a WRITE payload");
      }
    }
  }

  /**
   * Reads more bytes into the chunk; at a clean end of stream marks the input ended.
   *
   * @return false when nothing came for {@code idleNanos} (polling transports only)
   */
  private boolean fill(long idleNanos) throws IOException {
    if (chunk == null) {
      return first(idleNanos);
    }
    makeRoom();
    ByteBuffer b = chunk.buffer;
    int want = headerOnly ? NbdWire.REQUEST_HEADER - (wpos - rpos) : WINDOW;
    transport.expect(largeLast);
    b.limit(Math.min(b.capacity(), wpos + Math.max(want, 1))).position(wpos);
    int r = idleNanos == Long.MAX_VALUE ? transport.read(b) : transport.read(b, idleNanos);
    if (r == 0) {
      return false;
    }
    headerOnly = false;
    if (r < 0) {
      if (wpos != rpos) {
        throw new EOFException("client closed in the middle of a request");
      }
      ended = true;
      return true;
    }
    wpos += r;
    return true;
  }

  /**
   * Waits for the client's next bytes holding no chunk, only {@link #firstBytes}: a quiet
   * connection costs no buffer. The bytes go into a chunk once they are there.
   */
  private boolean first(long idleNanos) throws IOException {
    firstBytes.clear();
    int r = idleNanos == Long.MAX_VALUE ? transport.read(firstBytes)
        : transport.read(firstBytes, idleNanos);
    if (r == 0) {
      return false;
    }
    if (r < 0) {
      ended = true;
      return true;
    }
    chunk = chunks.pop();
    chunk.buffer.put(0, firstBytes, 0, r);
    rpos = 0;
    wpos = r;
    headerOnly = false;
    return true;
  }

  private void makeRoom() throws IOException {
    if (chunk.buffer.capacity() - wpos >= WINDOW) {
      return;
    }
    int avail = wpos - rpos;
    ByteBuffer b = chunk.buffer;
    if (chunk.unshared()) {
      b.limit(wpos).position(rpos);
      b.compact();
    } else {
      InputChunk fresh = chunks.pop();
      fresh.buffer.put(0, b, rpos, avail);
      chunk.release();
      chunk = fresh;
    }
    rpos = 0;
    wpos = avail;
  }

  /**
   * The connection goes quiet: the chunk goes back to the pool unless it holds the start of a
   * request, and so do the free ones, so a quiet connection holds no buffer.
   */
  void park() {
    if (chunk != null && rpos == wpos && chunk.unshared()) {
      chunk.release();
      chunk = null;
    }
    chunks.drain();
  }

  /** Lets go of every chunk; the reader is done. */
  void close() {
    if (chunk != null) {
      chunk.release();
      chunk = null;
    }
    chunks.drain();
  }
}
