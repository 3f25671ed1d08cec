package dev.jdm.nbd;

import dev.jdm.nbd.protocol.Transport;
import dev.jdm.nbd.protocol.PlainTransport;
import dev.jdm.nbd.protocol.ProtocolException;
import dev.jdm.kernel.MappedDevice;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.Optional;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client's life, as nbdkit's {@code connections.c}: the handshake, then the transmission phase
 * until the client leaves, then the close. Which threads do what:
 *
 * <ul>
 *   <li>the handshake, and waiting for a quiet client's next request, run on the connection's
 *       virtual thread with a blocking socket, so a connection that has not finished its
 *       handshake, or is idle, holds no platform thread;
 *   <li>as soon as requests arrive, {@link Workers} serve them on platform threads (device I/O runs
 *       on the calling thread, so it must not pin the few carriers of virtual threads), until the
 *       client has sent nothing for {@code idle-after}.
 * </ul>
 *
 * <p>What the commands mean is {@link Commands}; parsing is {@link RequestReader}; replies go out
 * through {@link Replies}.
 */
final class Connection implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(Connection.class);

  private final NbdServer server;
  private final SocketChannel channel;
  private final String peer;
  /** The peer's address for the per-peer limit, or null (unix sockets). */
  final String address;
  private final BufferPool pool;
  private final NbdConfig config;
  private volatile Transport transport;
  private volatile Session session;
  private volatile Handshake handshake;
  private final AtomicBoolean closed = new AtomicBoolean();
  /** When the handshake started, for evicting the oldest when too many are in it. */
  final long startedNanos = System.nanoTime();

  Connection(NbdServer server, SocketChannel channel, String peer, String address) {
    this.server = server;
    this.channel = channel;
    this.peer = peer;
    this.address = address;
    this.pool = server.buffers();
    this.config = server.config();
    this.transport = new PlainTransport(channel);
  }

  /** The device this client uses, or null during the handshake. */
  MappedDevice device() {
    Session s = session;
    return s == null ? null : s.device();
  }

  /** Whether the client is still in the handshake. */
  boolean handshaking() {
    return session == null && !closed.get();
  }

  @Override
  public void run() {
    try {
      if (!negotiate()) {
        return;
      }
      server.handshakeDone(this);
      Session s = session;
      LOG.debug("{}: export {}{}{}", peer, s.device().name(),
          s.structured() ? ", structured replies" : "", transport.secure() ? ", TLS" : "");
      serve(s);
    } catch (ProtocolException e) {
      server.refusals().note(peer + ": " + e.getMessage() + "; disconnecting");
    } catch (IOException e) {
      LOG.debug("{}: {}", peer, e.toString());
    } catch (RuntimeException | Error e) {
      LOG.error("{}: connection failed", peer, e);
    } finally {
      close();
      server.forget(this);
    }
  }

  private boolean negotiate() throws IOException {
    Handshake h = new Handshake(channel, server.exports(), config.tls(), server.sslContext(),
        server::closing);
    handshake = h;
    ScheduledFuture<?> watchdog;
    try {
      watchdog = server.timer().schedule(() -> {
        server.refusals().note(peer + ": handshake not finished within "
            + config.handshakeTimeout() + "; disconnecting");
        h.transport().close();
      }, config.handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException stopping) {
      return false;
    }
    Optional<Session> s;
    try {
      s = h.run();
    } finally {
      watchdog.cancel(false);
      transport = h.transport();
      handshake = null;
    }
    if (s.isEmpty()) {
      return false;
    }
    session = s.get();
    return !closed.get();
  }

  /**
   * The transmission phase: this virtual thread waits for requests on a blocking socket; each
   * batch starts a turn of the platform {@link Workers}, which ends when the input ends or the
   * client goes quiet.
   */
  private void serve(Session s) throws IOException {
    if (s.device().removed()) {
      deviceRemoved();
    }
    Commands commands = new Commands(peer, pool, config.maxPayload());
    Slots slots = new Slots(commands, pool, config.maxInFlight());
    Replies replies = new Replies(peer, slots, config.maxInFlight());
    replies.to(transport);
    commands.begin(s, replies);
    RequestReader reader = new RequestReader(transport, slots, pool, config.maxPayload(),
        config.maxInFlight(), replies::flush);
    Workers workers = new Workers(s.device().name(), reader, commands, replies, slots,
        config.threadsPerConnection(), config.idleAfter().toNanos());
    try {
      while (true) {
        RequestSlot batch = reader.read(Long.MAX_VALUE);
        if (batch == null) {
          break;
        }
        transport.polling(config.pollSpin().toNanos());
        workers.turn(batch);
        if (reader.ended() || closed.get()) {
          break;
        }
        reader.park();
        transport.blocking();
      }
      slots.awaitDrained();
      replies.flush();
    } finally {
      slots.close();
      reader.close();
    }
    IOException why = reader.failure();
    if (why instanceof ProtocolException) {
      server.refusals().note(peer + ": " + why.getMessage() + "; disconnecting");
    } else if (why != null) {
      LOG.debug("{}: {}", peer, why.toString());
    }
  }

  /** The device went away: its requests fail from now on; the client is cut off after a grace. */
  void deviceRemoved() {
    try {
      server.timer().schedule(() -> {
        if (!closed.get()) {
          LOG.info("{}: export {} was removed; disconnecting", peer, device().name());
          transport.shutdownInput();
        }
      }, config.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException stopping) {
      transport.shutdownInput();
    }
  }

  /** Stops reading; requests in flight finish and are answered, then the connection closes. */
  void shutdown() {
    Handshake h = handshake;
    if (h != null || session == null) {
      transport.close();
      if (h != null) {
        h.transport().close();
      }
      return;
    }
    transport.shutdownInput();
  }

  /** Closes a connection still in its handshake at once (too many are). */
  void evict() {
    server.refusals().note(peer + ": dropped while still in the handshake: too many clients"
        + " are (max-handshakes)");
    shutdown();
  }

  private void close() {
    if (closed.compareAndSet(false, true)) {
      transport.close();
      Session s = session;
      if (s != null) {
        s.device().release();
      }
      LOG.debug("{}: closed", peer);
    }
  }

  @Override
  public String toString() {
    return peer;
  }
}
