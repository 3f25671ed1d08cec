package dev.jdm.nbd;

import dev.jdm.kernel.DeviceListener;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.Frontend;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.nbd.protocol.TlsContext;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The NBD server: listeners on TCP and Unix sockets, one {@link Connection} per client, the exports
 * read live from the {@link DeviceMapper}.
 */
final class NbdServer implements Frontend {
  private static final Logger LOG = LoggerFactory.getLogger(NbdServer.class);

  private final NbdConfig config;
  private final DeviceMapper mapper;
  private final Exports exports;
  private final BufferPool buffers;
  private final SSLContext ssl;
  private final ScheduledExecutorService timer;
  private final List<Listener> listeners = new ArrayList<>();
  private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
  private final Set<Thread> connectionThreads = ConcurrentHashMap.newKeySet();
  /** Connections that have not finished their handshake; guarded by itself. */
  private final Set<Connection> handshaking = new java.util.HashSet<>();
  /** Connections per peer address (TCP only). */
  private final ConcurrentHashMap<String, Integer> perPeer = new ConcurrentHashMap<>();
  private final ClientWarnings warnings = new ClientWarnings(10, TimeUnit.SECONDS);
  private final AtomicLong accepted = new AtomicLong();
  private final DeviceListener devices = new DeviceListener() {
    @Override
    public void removed(MappedDevice device) {
      for (Connection c : connections) {
        if (c.device() == device) {
          c.deviceRemoved();
        }
      }
    }
  };
  private volatile boolean closing;

  /** One bound address and the thread accepting on it. */
  private record Listener(ListenAddress configured, ServerSocketChannel channel, String bound,
      Thread acceptor) {}

  private NbdServer(NbdConfig config, DeviceMapper mapper, SSLContext ssl) {
    this.config = config;
    this.mapper = mapper;
    this.exports = new Exports(mapper, config.defaultExport(), config.maxPayload());
    this.buffers = new BufferPool(config.bufferMemory(), config.bufferCache());
    this.ssl = ssl;
    this.timer = Executors.newSingleThreadScheduledExecutor(
        Thread.ofPlatform().daemon().name("nbd-timer").factory());
  }

  /** Binds every configured address and starts accepting. */
  static NbdServer start(DeviceMapper mapper, NbdConfig config)
      throws IOException, GeneralSecurityException {
    SSLContext ssl = config.tls().mode() == NbdConfig.TlsMode.OFF ? null
        : TlsContext.server(config.tls().certificate(), config.tls().key(), config.tls().trust());
    NbdServer server = new NbdServer(config, mapper, ssl);
    try {
      for (ListenAddress a : config.listen()) {
        server.listen(a);
      }
    } catch (IOException | RuntimeException e) {
      server.close();
      throw e;
    }
    mapper.addListener(server.devices);
    LOG.info("{}", server.describe());
    return server;
  }

  private void listen(ListenAddress a) throws IOException {
    ServerSocketChannel ch;
    String bound;
    Path socket = a.socketPath();
    if (socket != null) {
      ch = bindUnix(a, socket);
      bound = a.text();
    } else {
      boolean v6 = ((InetSocketAddress) a.address()).getAddress() instanceof Inet6Address;
      ch = ServerSocketChannel.open(
          v6 ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET);
      try {
        ch.setOption(StandardSocketOptions.SO_REUSEADDR, true);
        ch.bind(a.address(), 128);
      } catch (IOException e) {
        ch.close();
        throw new IOException("nbd: cannot listen on " + a.text() + ": " + e.getMessage(), e);
      }
      InetSocketAddress local = (InetSocketAddress) ch.getLocalAddress();
      String host = local.getAddress().getHostAddress();
      bound = (host.contains(":") ? "[" + host + "]" : host) + ":" + local.getPort();
      if (config.tls().mode() == NbdConfig.TlsMode.OFF) {
        LOG.warn("nbd: listening on TCP {} without TLS: every local user, and whoever reaches the"
            + " address, can read and write every device; prefer a unix socket, or set"
            + " jdm.frontends.nbd.tls.mode = require", bound);
      }
    }
    Thread t = Thread.ofPlatform().daemon().name("nbd-accept " + bound).unstarted(() -> accept(ch));
    listeners.add(new Listener(a, ch, bound, t));
    t.start();
  }

  /**
   * Binds a Unix socket with mode 0600 from its first moment: it is bound in a private directory,
   * restricted, then renamed into place. A stale socket file (nobody listening) is replaced.
   */
  private static ServerSocketChannel bindUnix(ListenAddress a, Path socket) throws IOException {
    Path dir = socket.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    if (Files.exists(socket) || Files.isSymbolicLink(socket)) {
      try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
        probe.connect(UnixDomainSocketAddress.of(socket));
        throw new IOException("nbd: cannot listen on " + a.text()
            + ": another server is listening there");
      } catch (IOException stale) {
        if (stale.getMessage() != null && stale.getMessage().startsWith("nbd:")) {
          throw stale;
        }
        if (!Files.readAttributes(socket, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS)
            .isOther()) {
          throw new IOException("nbd: cannot listen on " + a.text()
              + ": the path exists and is not a socket");
        }
        Files.delete(socket);
      }
    }
    Path tmp = Files.createTempDirectory(dir, ".nbd-");
    Path inTmp = tmp.resolve("s");
    ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ch.bind(UnixDomainSocketAddress.of(inTmp), 128);
      Files.setPosixFilePermissions(inTmp, PosixFilePermissions.fromString("rw-------"));
      Files.move(inTmp, socket, StandardCopyOption.ATOMIC_MOVE);
      return ch;
    } catch (IOException e) {
      ch.close();
      throw new IOException("nbd: cannot listen on " + a.text() + ": " + e.getMessage(), e);
    } finally {
      Files.deleteIfExists(inTmp);
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * Takes clients, within three limits: {@code max-connections} in all, {@code
   * max-connections-per-peer} from one TCP address, and {@code max-handshakes} not done with their
   * handshake (when full, the oldest of those is dropped for the newcomer, so clients that never
   * finish cannot lock out those that do). Each connection runs on a virtual thread.
   */
  private void accept(ServerSocketChannel server) {
    while (!closing) {
      SocketChannel c;
      try {
        c = server.accept();
      } catch (ClosedChannelException e) {
        return;
      } catch (IOException e) {
        if (!closing) {
          LOG.warn("nbd: accept failed: {}", e.toString());
        }
        continue;
      }
      String address = address(c);
      String peer = peerName(c);
      if (connections.size() >= config.maxConnections()) {
        warnings.note(peer + ": refused: already " + connections.size()
            + " connections (max-connections)");
        closeQuietly(c);
        continue;
      }
      if (address != null && perPeer.getOrDefault(address, 0) >= config.maxConnectionsPerPeer()) {
        warnings.note(peer + ": refused: already " + config.maxConnectionsPerPeer()
            + " connections from " + address + " (max-connections-per-peer)");
        closeQuietly(c);
        continue;
      }
      try {
        if (c.getRemoteAddress() instanceof InetSocketAddress) {
          c.setOption(StandardSocketOptions.TCP_NODELAY, true);
        }
        if (config.socketBuffer() > 0) {
          c.setOption(StandardSocketOptions.SO_SNDBUF, config.socketBuffer());
          c.setOption(StandardSocketOptions.SO_RCVBUF, config.socketBuffer());
        }
      } catch (IOException e) {
        closeQuietly(c);
        continue;
      }
      Connection conn = new Connection(this, c, peer, address);
      connections.add(conn);
      if (address != null) {
        perPeer.merge(address, 1, Integer::sum);
      }
      Connection oldest = null;
      synchronized (handshaking) {
        if (handshaking.size() >= config.maxHandshakes()) {
          oldest = handshaking.stream()
              .min((a, b) -> Long.compare(a.startedNanos, b.startedNanos)).orElse(null);
          handshaking.remove(oldest);
        }
        handshaking.add(conn);
      }
      if (oldest != null) {
        oldest.evict();
      }
      Thread t = Thread.ofVirtual().name("nbd " + peer).unstarted(() -> {
        try {
          conn.run();
        } finally {
          connectionThreads.remove(Thread.currentThread());
        }
      });
      connectionThreads.add(t);
      t.start();
      if (closing) {
        conn.shutdown();
      }
    }
  }

  /** The peer's IP address, the key of the per-peer limit; null for unix sockets. */
  private static String address(SocketChannel c) {
    try {
      if (c.getRemoteAddress() instanceof InetSocketAddress i) {
        return i.getAddress().getHostAddress();
      }
    } catch (IOException e) {
      // no address: no per-peer limit
    }
    return null;
  }

  /** The client finished its handshake: it no longer counts against max-handshakes. */
  void handshakeDone(Connection c) {
    synchronized (handshaking) {
      handshaking.remove(c);
    }
  }

  ClientWarnings refusals() {
    return warnings;
  }

  private String peerName(SocketChannel c) {
    long n = accepted.incrementAndGet();
    try {
      if (c.getRemoteAddress() instanceof InetSocketAddress i) {
        return "nbd client " + i.getAddress().getHostAddress() + ":" + i.getPort();
      }
    } catch (IOException e) {
      // fall through to a number
    }
    return "nbd client #" + n + " (unix)";
  }

  private static void closeQuietly(SocketChannel c) {
    try {
      c.close();
    } catch (IOException e) {
      // nothing to release
    }
  }

  void forget(Connection c) {
    handshakeDone(c);
    if (connections.remove(c) && c.address != null) {
      perPeer.computeIfPresent(c.address, (k, n) -> n > 1 ? n - 1 : null);
    }
  }

  NbdConfig config() {
    return config;
  }

  Exports exports() {
    return exports;
  }

  BufferPool buffers() {
    return buffers;
  }

  SSLContext sslContext() {
    return ssl;
  }

  ScheduledExecutorService timer() {
    return timer;
  }

  boolean closing() {
    return closing;
  }

  /** The bound addresses, with actual ports: {@code 127.0.0.1:40123}, {@code unix:/run/x.sock}. */
  List<String> addresses() {
    return listeners.stream().map(Listener::bound).toList();
  }

  /** How many clients are connected now. */
  int connectionCount() {
    return connections.size();
  }

  /**
   * Where it listens, and the URI clients use for the first unix socket:
   * {@code nbd on unix:/run/jdm/nbd.sock (nbd+unix:///NAME?socket=/run/jdm/nbd.sock)}.
   */
  @Override
  public String describe() {
    String d = "nbd on " + String.join(", ", addresses());
    for (Listener l : listeners) {
      Path socket = l.configured().socketPath();
      if (socket != null) {
        return d + " (nbd+unix:///NAME?socket=" + socket + ")";
      }
    }
    return d;
  }

  @Override
  public void close() {
    if (closing) {
      return;
    }
    closing = true;
    mapper.removeListener(devices);
    for (Listener l : listeners) {
      try {
        l.channel().close();
      } catch (IOException e) {
        LOG.debug("nbd: closing {}: {}", l.bound(), e.toString());
      }
      Path socket = l.configured().socketPath();
      if (socket != null) {
        try {
          Files.deleteIfExists(socket);
        } catch (IOException e) {
          LOG.warn("nbd: cannot remove {}: {}", socket, e.toString());
        }
      }
    }
    for (Connection c : connections) {
      c.shutdown();
    }
    long deadline = System.nanoTime() + config.shutdownGrace().toNanos();
    for (Thread t : connectionThreads) {
      long left = deadline - System.nanoTime();
      try {
        if (left > 0) {
          t.join(left / 1_000_000 + 1);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    timer.shutdownNow();
    LOG.info("nbd: stopped");
  }
}
