package dev.jdm.kernel;

/**
 * A running frontend: something that exposes the devices of a {@link DeviceMapper} to the rest of
 * the system (an NBD server, a FUSE mount). Started by its {@link FrontendProvider}.
 */
public interface Frontend extends AutoCloseable {
  /** One line saying where it serves, for the daemon's {@code jdm ready} line. */
  String describe();

  /**
   * Stops taking new requests, finishes those in flight, and releases everything it holds (sockets,
   * mounts). Idempotent.
   */
  @Override
  void close();
}
