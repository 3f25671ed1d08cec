package dev.jdm.daemon;

import dev.jdm.daemon.ControlProtocol.Reply;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Listens on the control socket and answers each connection on its own virtual thread: one request,
 * one reply ({@link ControlProtocol}). A malformed request gets an error reply; others go on. At
 * most {@code jdm.control.max-requests} are answered at once (one more waits a second for a
 * place, then is told the daemon is busy), and a request must arrive whole within
 * {@code jdm.control.request-timeout}. A request's strings take memory only as their bytes arrive.
 */
final class ControlServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ControlServer.class);
  /** How long a request waits for a place before it is told the daemon is busy. */
  private static final long BUSY_WAIT_MILLIS = 1000;

  private final Path socket;
  private final ServerSocketChannel server;
  private final Function<List<String>, Reply> handler;
  private final Set<SocketChannel> serving = ConcurrentHashMap.newKeySet();
  private final Thread acceptor;
  private final Semaphore slots;
  private final int maxRequests;
  private final Duration requestTimeout;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(
      Thread.ofPlatform().daemon().name("jdm-control-timer").factory());

  private ControlServer(Path socket, ServerSocketChannel server,
      Function<List<String>, Reply> handler, int maxRequests, Duration requestTimeout) {
    this.socket = socket;
    this.server = server;
    this.handler = handler;
    this.maxRequests = maxRequests;
    this.slots = new Semaphore(maxRequests);
    this.requestTimeout = requestTimeout;
    this.acceptor = Thread.ofPlatform().name("jdm-control-accept").daemon().unstarted(this::accept);
  }

  /**
   * Binds {@code socket} with mode 0600 and starts answering. The socket is bound under a temporary
   * name, restricted, then renamed into place, so it is never reachable with looser permissions.
   */
  static ControlServer start(Path socket, Function<List<String>, Reply> handler, int maxRequests,
      Duration requestTimeout) throws IOException {
    Path fresh = socket.resolveSibling(socket.getFileName() + ".new");
    Files.deleteIfExists(fresh);
    ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      server.bind(UnixDomainSocketAddress.of(fresh));
      Files.setPosixFilePermissions(fresh, PosixFilePermissions.fromString("rw-------"));
      Files.move(fresh, socket, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      server.close();
      Files.deleteIfExists(fresh);
      throw e;
    }
    ControlServer s = new ControlServer(socket, server, handler, maxRequests, requestTimeout);
    s.acceptor.start();
    return s;
  }

  /** Where it listens. */
  Path socket() {
    return socket;
  }

  private void accept() {
    while (true) {
      SocketChannel c;
      try {
        c = server.accept();
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        LOG.warn("control socket {}: accept failed: {}", socket, e.toString());
        continue;
      }
      serving.add(c);
      Thread.ofVirtual().name("jdm-control").start(() -> answer(c));
    }
  }

  private void answer(SocketChannel c) {
    if (!acquire()) {
      try (c) {
        // Read the request to its end, keeping none of it, so that the client sees the answer.
        ScheduledFuture<?> late = timer.schedule(() -> closeLate(c), requestTimeout.toMillis(),
            TimeUnit.MILLISECONDS);
        ByteBuffer discard = ByteBuffer.allocate(4096);
        while (c.read(discard.clear()) >= 0) {
          // nothing kept
        }
        late.cancel(false);
        ControlProtocol.write(c, Reply.failed("jdm: the daemon is busy: " + maxRequests
            + " control requests are being answered (jdm.control.max-requests); try again")
            .strings());
      } catch (IOException e) {
        LOG.debug("control connection ended early: {}", e.toString());
      } finally {
        forget(c);
      }
      return;
    }
    try (c) {
      List<String> request;
      AtomicBoolean tooLate = new AtomicBoolean();
      ScheduledFuture<?> late = timer.schedule(() -> {
        tooLate.set(true);
        closeLate(c);
      }, requestTimeout.toMillis(), TimeUnit.MILLISECONDS);
      try {
        request = ControlProtocol.read(c);
      } catch (IOException e) {
        String why = tooLate.get() ? "not whole within " + requestTimeout.toMillis() / 1000.0
            + "s (jdm.control.request-timeout)" : e.getMessage();
        LOG.warn("control socket: bad request: {}", why);
        if (c.isOpen()) {
          ControlProtocol.write(c, Reply.badRequest("jdm: bad control request: " + why)
              .strings());
        }
        return;
      } finally {
        late.cancel(false);
      }
      ControlProtocol.write(c, handler.apply(request).strings());
    } catch (IOException e) {
      LOG.debug("control connection ended early: {}", e.toString());
    } finally {
      slots.release();
      forget(c);
    }
  }

  /** A place among the requests answered, waiting a moment for one: verbs take milliseconds. */
  private boolean acquire() {
    try {
      return slots.tryAcquire(BUSY_WAIT_MILLIS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private void forget(SocketChannel c) {
    synchronized (serving) {
      serving.remove(c);
      serving.notifyAll();
    }
  }

  /**
   * A request that did not arrive whole in time: its input is shut, so the read waiting for it
   * ends and the client is told why.
   */
  private static void closeLate(SocketChannel c) {
    try {
      c.shutdownInput();
    } catch (IOException e) {
      // already closed: the read ends anyway
    }
  }

  /**
   * Stops taking connections, lets requests being answered finish for up to {@code wait}, then
   * closes what is left. Leaves the socket file to its owner.
   */
  void close(Duration wait) {
    try {
      server.close();
      acceptor.join();
    } catch (IOException e) {
      LOG.warn("control socket {}: close failed: {}", socket, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    long deadline = System.nanoTime() + wait.toNanos();
    synchronized (serving) {
      while (!serving.isEmpty()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        try {
          serving.wait(Math.max(1, left / 1_000_000));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    for (SocketChannel c : serving) {
      try {
        c.close();
      } catch (IOException e) {
        LOG.debug("closing a control connection: {}", e.toString());
      }
    }
    timer.shutdownNow();
  }

  @Override
  public void close() {
    close(Duration.ZERO);
  }
}
