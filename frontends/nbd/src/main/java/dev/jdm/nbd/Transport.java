package dev.jdm.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The byte stream of one client connection: the socket itself, or TLS over it after STARTTLS.
 * One thread reads while another writes; writes are never concurrent with each other. Blocking
 * until {@link #polling}; modes change only while no other thread uses the transport.
 */
interface Transport extends AutoCloseable {
  /** Reads at least one byte into {@code dst}; -1 at the end of the stream. */
  int read(ByteBuffer dst) throws IOException;

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

  /** Writes every remaining byte of {@code srcs[offset .. offset+length)}. */
  void write(ByteBuffer[] srcs, int offset, int length) throws IOException;

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
