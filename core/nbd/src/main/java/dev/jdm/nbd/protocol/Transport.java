package dev.jdm.nbd.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The byte stream of one NBD connection: the socket itself, or TLS over it after STARTTLS.
 * Blocking. One thread reads while another writes; writes are never concurrent with each other.
 */
public interface Transport extends AutoCloseable {
  /** Reads at least one byte into {@code dst}; -1 at the end of the stream. */
  int read(ByteBuffer dst) throws IOException;

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
