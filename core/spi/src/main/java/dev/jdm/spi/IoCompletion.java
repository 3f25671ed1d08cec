package dev.jdm.spi;

/**
 * Called once when an {@link IoRequest} ends, with its {@link IoRequest#status()} set; the block
 * layer's {@code bi_end_io}. It may run on any thread, including the one that submitted the request,
 * before {@code submit} returns. It must not block on I/O.
 */
@FunctionalInterface
public interface IoCompletion {
  /** The request ended; read its status. */
  void completed(IoRequest request);
}
