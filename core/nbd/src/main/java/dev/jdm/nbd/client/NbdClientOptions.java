package dev.jdm.nbd.client;

import java.nio.file.Path;
import java.time.Duration;

/**
 * How the client of remote NBD exports behaves; the kernel reads it from {@code jdm.kernel.nbd}
 * (defaults and their meaning in the kernel's {@code reference.conf}).
 *
 * @param connections connections per export when the server allows several (multi-conn)
 * @param maxInFlight requests in flight per connection, at most {@link #MAX_IN_FLIGHT}
 * @param connectTimeout how long connecting and the handshake may take
 * @param reconnectTimeout how long requests wait while no connection is up before they fail with
 *     EIO (multipath's queue_if_no_path with a limit); zero fails them at once
 * @param reconnectDelay the first pause between reconnection attempts, doubled after each failure
 * @param reconnectDelayMax the longest pause between reconnection attempts
 * @param certificate the client certificate (PEM) for TLS, or null for none
 * @param key the client certificate's private key (PEM), or null
 * @param trust the CA (PEM) the server's certificate must chain to, or null for the JDK's CAs
 */
public record NbdClientOptions(
    int connections,
    int maxInFlight,
    Duration connectTimeout,
    Duration reconnectTimeout,
    Duration reconnectDelay,
    Duration reconnectDelayMax,
    Path certificate,
    Path key,
    Path trust) {

  /** The most requests one connection keeps in flight (the cookie has 8 bits for the slot). */
  public static final int MAX_IN_FLIGHT = 256;

  public NbdClientOptions {
    if (connections < 1 || maxInFlight < 1 || maxInFlight > MAX_IN_FLIGHT) {
      throw new IllegalArgumentException("connections >= 1 and max-in-flight from 1 to "
          + MAX_IN_FLIGHT);
    }
  }
}
