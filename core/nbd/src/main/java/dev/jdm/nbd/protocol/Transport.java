package dev.jdm.nbd.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The byte stream of one NBD connection: the socket itself, or TLS over it after STARTTLS.
 * One thread reads while another writes; writes are never concurrent with each other. Blocking
 * until {@link #polling}; modes change only while no other thread uses the transport.
 */
public interface Transport extends AutoCloseable {
  /** Reads at least one byte into {@code dst}; -1 at the end of the stream. */
  int read(ByteBuffer dst) throws IOException;

  /** Writes every remaining byte of {@code srcs[offset .. offset+length)}. */
  void write(ByteBuffer[] srcs, int offset, int length) throws IOException;

  /**
   * As {@link #read(ByteBuffer)}, but in polling mode returns 0 when nothing came for
   * {@code idleNanos}; a blocking transport just waits.
   */
  int read(ByteBuffer dst, long idleNanos) throws IOException;

  /**
   * Polling mode, for platform threads: the socket turns non-blocking, reads may give up after an
   * idle time, and when more is expected soon a read spins {@code spinNanos} before it sleeps.
   */
  void polling(long spinNanos) throws IOException;

  /** Blocking mode, for a virtual thread to wait on cheaply; drops what polling needed. */
  void blocking() throws IOException;

  /** Writes every remaining byte of {@code src}. */
  default void write(ByteBuffer src) throws IOException {
    write(new ByteBuffer[] {src}, 0, 1);
  }

  /** Fills {@code dst} to its limit; an {@link EOFException} saying {@code whenClosed} at the end. */
  default void readFully(ByteBuffer dst, String whenClosed) throws IOException {
    while (dst.hasRemaining()) {
      if (read(dst) < 0) {
        throw new EOFException(whenClosed);
      }
    }
  }

  /** The next {@code n} bytes in a new buffer, ready to get from (for handshake messages). */
  default ByteBuffer readExactly(int n, String whenClosed) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(n);
    readFully(b, whenClosed);
    return b.flip();
  }

  /**
   * Says whether the next bytes should come soon (the rest of a large WRITE, the request after a
   * large one), so a transport that can poll before it sleeps does so only then.
   */
  default void expect(boolean soon) {}

  /** Stops reading: a blocked or later {@link #read} sees the end of the stream. */
  void shutdownInput();

  /** Whether the stream is encrypted. */
  boolean secure();

  /** Closes the connection; idempotent. */
  @Override
  void close();
}
