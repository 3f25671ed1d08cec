package dev.jdm.nbd.client;

import dev.jdm.nbd.protocol.NbdWire;
import dev.jdm.nbd.protocol.TlsContext;
import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A remote NBD export used as a backing device: the user-space counterpart of {@code nbd.ko} with
 * a multipath-like queue. Requests go out on one of several connections when the server allows
 * multi-conn, pipelined, and complete in whatever order the server answers them; long reads and
 * writes are cut at the server's largest payload.
 *
 * <p>Faults: when a connection drops, what it had in flight is sent again on another connection, or
 * waits while the thread of the dropped one reconnects with a growing pause. While no connection is
 * up, requests wait, at most {@link NbdClientOptions#reconnectTimeout()} from the moment the last
 * one went down; then they fail with EIO, and new ones fail at once until a connection is back
 * (multipath's {@code queue_if_no_path} with {@code no_path_retry}). A server that answers garbage
 * is disconnected with one log line, and the requests it had fail with EIO. {@link #state()} says
 * which of these the device is in.
 *
 * <p>Threads: one per connection reads replies and completes requests; one dispatcher sends what
 * had to wait. Submitters send their own requests when a slot is free.
 */
public final class NbdDevice implements BlockDevice, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NbdDevice.class);
  /** Ends connection attempts that take too long. */
  static final ScheduledThreadPoolExecutor TIMER = timer();

  private final NbdUri uri;
  private final NbdClientOptions options;
  private final SSLContext ssl;
  /** Set once by {@link #open}, before the device is published. */
  private ClientHandshake.Export export;
  private ClientConnection[] connections;
  private IoLimits limits;

  private final Object lock = new Object();
  private final ArrayDeque<IoRequest> pending = new ArrayDeque<>();
  private final ArrayDeque<Job> continuations = new ArrayDeque<>();
  /** Requests and phases waiting for the dispatcher; read without the lock as a hint. */
  private volatile int waiting;
  private int upCount;
  private long downSince;
  private volatile boolean failing;
  private volatile boolean closed;
  /** Told when a connection goes down or comes back, or requests start failing. */
  private volatile Runnable onStateChange = () -> { };
  private Thread dispatcher;
  private int next;

  private NbdDevice(NbdUri uri, NbdClientOptions options, SSLContext ssl) {
    this.uri = uri;
    this.options = options;
    this.ssl = ssl;
  }

  private static ScheduledThreadPoolExecutor timer() {
    ScheduledThreadPoolExecutor t = new ScheduledThreadPoolExecutor(1,
        Thread.ofPlatform().daemon().name("nbd-client-timer").factory());
    t.setRemoveOnCancelPolicy(true);
    return t;
  }

  /**
   * Connects to the export and negotiates; more connections follow when the server allows them.
   *
   * @throws IOException with a short reason (connection refused, no such export, TLS refused)
   */
  public static NbdDevice open(NbdUri uri, NbdClientOptions options) throws IOException {
    NbdDevice d = new NbdDevice(uri, options, uri.tls() ? tlsContext(uri, options) : null);
    ClientConnection first = new ClientConnection(d, 1, options.maxInFlight());
    ClientHandshake.Result r = first.connect();
    ClientHandshake.Export e = r.export();
    d.export = e;
    d.limits = limits(e);
    int n = e.has(NbdWire.TF_CAN_MULTI_CONN) ? options.connections() : 1;
    d.connections = new ClientConnection[n];
    d.connections[0] = first;
    synchronized (d.lock) {
      d.upCount = 1;
    }
    first.start(r);
    for (int i = 1; i < n; i++) {
      ClientConnection c = new ClientConnection(d, i + 1, options.maxInFlight());
      d.connections[i] = c;
      // Counted up first: a connection that drops at once counts itself down.
      synchronized (d.lock) {
        d.upCount++;
      }
      try {
        ClientHandshake.Result more = c.connect();
        d.check(more.export());
        c.start(more);
      } catch (IOException x) {
        synchronized (d.lock) {
          d.upCount--;
        }
        LOG.warn("{}: connection {} of {} failed: {}; retrying in the background", uri, i + 1,
            n, x.getMessage());
        c.startThread();
      }
    }
    d.dispatcher = Thread.ofPlatform().daemon().name("nbd " + uri + " dispatcher")
        .start(d::dispatch);
    LOG.info("{}: {} bytes{}, {} connection(s){}{}{}", uri, e.size(),
        e.has(NbdWire.TF_READ_ONLY) ? " read-only" : "", n,
        e.structured() ? ", structured replies" : "",
        e.allocationContext() != 0 ? ", block status" : "", uri.tls() ? ", TLS" : "");
    return d;
  }

  private static SSLContext tlsContext(NbdUri uri, NbdClientOptions o) throws IOException {
    Path certificate = o.certificate();
    Path key = o.key();
    Path trust = o.trust();
    Path dir = uri.certificates();
    if (dir != null) {
      // libnbd's tls-certificates directory, as GnuTLS names the files.
      trust = existing(dir.resolve("ca-cert.pem"));
      certificate = existing(dir.resolve("client-cert.pem"));
      key = existing(dir.resolve("client-key.pem"));
    }
    try {
      return TlsContext.client(certificate, key, trust, uri.verifyPeer());
    } catch (GeneralSecurityException e) {
      throw new IOException("TLS: " + e.getMessage(), e);
    }
  }

  private static Path existing(Path p) {
    return Files.exists(p) ? p : null;
  }

  private static IoLimits limits(ClientHandshake.Export e) {
    int logical = Math.max(IoRequest.SECTOR_SIZE, e.minBlock());
    return new IoLimits(logical, Math.max(logical, e.preferredBlock()), 0);
  }

  NbdUri uri() {
    return uri;
  }

  NbdClientOptions options() {
    return options;
  }

  SSLContext ssl() {
    return ssl;
  }

  /** Refuses a reconnection to an export that is no longer the same. */
  void check(ClientHandshake.Export e) throws IOException {
    if (e.size() != export.size()) {
      throw new IOException("the export's size changed from " + export.size() + " to "
          + e.size() + " bytes");
    }
    if (e.has(NbdWire.TF_READ_ONLY) && !export.has(NbdWire.TF_READ_ONLY)) {
      throw new IOException("the export became read-only");
    }
  }

  // ------------------------------------------------------------------ BlockDevice

  @Override
  public String path() {
    return uri.text();
  }

  @Override
  public long sizeInSectors() {
    return export.size() >>> IoRequest.SECTOR_SHIFT;
  }

  @Override
  public boolean readOnly() {
    return export.has(NbdWire.TF_READ_ONLY);
  }

  @Override
  public boolean supports(IoOp op) {
    return switch (op) {
      case READ, WRITE, FLUSH -> true;
      case DISCARD -> export.has(NbdWire.TF_SEND_TRIM);
      case WRITE_ZEROES -> export.has(NbdWire.TF_SEND_WRITE_ZEROES);
    };
  }

  @Override
  public IoLimits limits() {
    return limits;
  }

  @Override
  public void submit(IoRequest r) {
    IoStatus refused = refuse(r);
    if (refused != null) {
      r.complete(refused);
      return;
    }
    if (r.op() == IoOp.FLUSH && !export.has(NbdWire.TF_SEND_FLUSH)) {
      // A server without FLUSH has no cache to flush (the block layer drops such flushes too).
      r.complete(IoStatus.OK);
      return;
    }
    if (waiting == 0 && !onReader()) {
      ClientConnection[] cs = connections;
      int n = cs.length;
      int start = n == 1 ? 0 : Math.floorMod(next++, n);
      for (int i = 0; i < n; i++) {
        ClientConnection c = cs[(start + i) % n];
        long token = c.take(r);
        if (token >= 0) {
          c.send(token);
          return;
        }
      }
    }
    enqueue(r);
  }

  private IoStatus refuse(IoRequest r) {
    if (closed) {
      return IoStatus.EIO;
    }
    IoOp op = r.op();
    if (op.changesData() && readOnly()) {
      return IoStatus.EPERM;
    }
    if (op == IoOp.DISCARD && !export.has(NbdWire.TF_SEND_TRIM)
        || op == IoOp.WRITE_ZEROES && !export.has(NbdWire.TF_SEND_WRITE_ZEROES)
        || op == IoOp.WRITE_ZEROES && r.hasFlag(IoRequest.FAST_ZERO)
            && !export.has(NbdWire.TF_SEND_FAST_ZERO)) {
      return IoStatus.EOPNOTSUPP;
    }
    int align = export.minBlock() - 1;
    if (align >= IoRequest.SECTOR_SIZE && op != IoOp.FLUSH
        && (((r.sector() | r.sectors()) << IoRequest.SECTOR_SHIFT) & align) != 0) {
      return IoStatus.EINVAL;
    }
    return null;
  }

  /** A reply completes requests on a reader thread; a request submitted there waits its turn. */
  private boolean onReader() {
    Thread t = Thread.currentThread();
    for (ClientConnection c : connections) {
      if (c.isReader(t)) {
        return true;
      }
    }
    return false;
  }

  private void enqueue(IoRequest r) {
    synchronized (lock) {
      if (!closed && !failing) {
        pending.addLast(r);
        waiting++;
        lock.notifyAll();
        return;
      }
    }
    r.complete(IoStatus.EIO);
  }

  /** Sends {@code r} again later (the server said it was shutting down). */
  void requeue(IoRequest r) {
    enqueue(r);
  }

  /** Sends phase {@code seq} of the job from the dispatcher. */
  void continueLater(Job j, int seq) {
    synchronized (lock) {
      j.continueSeq = seq;
      if (!j.queued) {
        j.queued = true;
        continuations.addLast(j);
        waiting++;
      }
      lock.notifyAll();
    }
  }

  /** A job became free: the dispatcher may have something for it. */
  void jobFreed() {
    if (waiting > 0) {
      synchronized (lock) {
        lock.notifyAll();
      }
    }
  }

  void connectionUp(ClientConnection c, long downNanos) {
    boolean back;
    synchronized (lock) {
      upCount++;
      back = failing;
      failing = false;
      lock.notifyAll();
    }
    LOG.info("{}: reconnected after {} ms{}", c, TimeUnit.NANOSECONDS.toMillis(downNanos),
        back ? "; I/O works again" : "");
    onStateChange.run();
  }

  /** Runs {@code r} (quickly, without blocking) each time {@link #state()} changes. */
  public void onStateChange(Runnable r) {
    onStateChange = r;
  }

  /**
   * A connection dropped with {@code n} requests in flight: they go to the front of the queue, or
   * fail with EIO when the server answered garbage.
   */
  void connectionLost(ClientConnection c, IOException cause, boolean garbage, IoRequest[] orphans,
      int n) {
    synchronized (lock) {
      upCount--;
      if (upCount == 0) {
        downSince = System.nanoTime();
      }
      if (!garbage) {
        for (int i = n - 1; i >= 0; i--) {
          pending.addFirst(orphans[i]);
        }
        waiting += n;
      }
      lock.notifyAll();
    }
    if (garbage) {
      LOG.warn("{}: the server answered garbage ({}); disconnected, {} request(s) fail with EIO",
          c, cause.getMessage(), n);
      for (int i = 0; i < n; i++) {
        orphans[i].complete(IoStatus.EIO);
      }
    } else {
      LOG.warn("{}: connection lost ({}); reconnecting, {} request(s) wait up to {} ms", c,
          cause.getMessage() == null ? cause.toString() : cause.getMessage(), n,
          options.reconnectTimeout().toMillis());
    }
    onStateChange.run();
  }

  // ------------------------------------------------------------------ the dispatcher

  /** Sends what waits whenever a job is free, and fails it all when no connection came back. */
  private void dispatch() {
    List<IoRequest> expired = new ArrayList<>();
    while (true) {
      ClientConnection to = null;
      long token = -1;
      Job phase = null;
      int phaseSeq = 0;
      synchronized (lock) {
        wait:
        while (true) {
          if (closed) {
            return;
          }
          long timeout = options.reconnectTimeout().toNanos();
          long down = upCount == 0 ? System.nanoTime() - downSince : 0;
          if (upCount == 0 && !failing && down >= timeout) {
            failing = true;
            expired.addAll(pending);
            waiting -= pending.size();
            pending.clear();
            LOG.error("{}: no connection for {} ms: {} waiting request(s) fail with EIO, and new"
                + " ones until the server is back", uri, TimeUnit.NANOSECONDS.toMillis(down),
                expired.size());
            TIMER.execute(onStateChange);
            break;
          }
          if (!continuations.isEmpty()) {
            phase = continuations.pollFirst();
            phase.queued = false;
            phaseSeq = phase.continueSeq;
            waiting--;
            break;
          }
          if (!pending.isEmpty() && upCount > 0) {
            IoRequest r = pending.peekFirst();
            for (ClientConnection c : connections) {
              token = c.take(r);
              if (token >= 0) {
                to = c;
                pending.pollFirst();
                waiting--;
                break wait;
              }
            }
          }
          try {
            if (upCount == 0 && !failing) {
              TimeUnit.NANOSECONDS.timedWait(lock, Math.max(timeout - down, 1_000_000));
            } else {
              lock.wait();
            }
          } catch (InterruptedException e) {
            return;
          }
        }
      }
      if (phase != null) {
        phase.connection.send(phase, phaseSeq);
      } else if (to != null) {
        to.send(token);
      }
      for (IoRequest r : expired) {
        r.complete(IoStatus.EIO);
      }
      expired.clear();
    }
  }

  // ------------------------------------------------------------------ block status

  @Override
  public void blockStatus(long sector, long sectors, ExtentSink sink) {
    SectorExtents out = new SectorExtents(sink);
    long pos = sector << IoRequest.SECTOR_SHIFT;
    long end = (sector + sectors) << IoRequest.SECTOR_SHIFT;
    while (export.allocationContext() != 0 && pos < end && !out.stopped()) {
      long length = Math.min(end - pos, Job.MAX_RANGE);
      BlockStatusCall call = new BlockStatusCall();
      if (!issue(call, pos, length)) {
        break;
      }
      try {
        if (call.await() != IoStatus.OK) {
          break;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
      long fed = call.replay(out, length);
      if (fed == 0) {
        break;
      }
      pos += fed;
    }
    // What the server did not describe is data.
    out.finish(sectors);
  }

  /** Sends one BLOCK_STATUS; false when no connection is up. */
  private boolean issue(BlockStatusCall call, long offset, long length) {
    while (!closed) {
      for (ClientConnection c : connections) {
        long token = c.takeForStatus(call, offset, length);
        if (token >= 0) {
          c.send(token);
          return true;
        }
      }
      synchronized (lock) {
        if (upCount == 0) {
          return false;
        }
        try {
          lock.wait(10);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
    }
    return false;
  }

  // ------------------------------------------------------------------ state

  /**
   * One line for status output: {@code connected}, {@code degraded} (some connections are
   * reconnecting), {@code reconnecting} (none is up; requests wait), or {@code failed} (none came
   * back in time; requests fail with EIO).
   */
  public String state() {
    synchronized (lock) {
      int n = connections.length;
      if (closed) {
        return "closed";
      }
      if (upCount == n) {
        return "connected, " + n + " connection(s)";
      }
      if (upCount > 0) {
        return "degraded, " + upCount + " of " + n + " connections up, reconnecting the rest";
      }
      long down = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - downSince);
      String why = connections[0].lastFailure();
      String last = why == null ? "" : "; last attempt: " + why;
      if (failing) {
        return "failed, down for " + down + " ms: I/O fails with EIO until the server is back"
            + last;
      }
      return "reconnecting, down for " + down + " ms, " + pending.size()
          + " request(s) waiting up to " + options.reconnectTimeout().toMillis() + " ms" + last;
    }
  }

  /** Whether at least one connection is up. */
  public boolean connected() {
    synchronized (lock) {
      return upCount > 0;
    }
  }

  /** Disconnects; requests still waiting fail with EIO. */
  @Override
  public void close() {
    List<IoRequest> left;
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      left = new ArrayList<>(pending);
      pending.clear();
      lock.notifyAll();
    }
    for (ClientConnection c : connections) {
      c.close();
    }
    try {
      dispatcher.join(10_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (IoRequest r : left) {
      r.complete(IoStatus.EIO);
    }
  }

  @Override
  public String toString() {
    return uri.text();
  }
}
