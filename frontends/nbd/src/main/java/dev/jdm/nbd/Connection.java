package dev.jdm.nbd;

import dev.jdm.kernel.MappedDevice;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client: the handshake, then the transmission phase (proto.md "Transmission").
 *
 * <p>Threads: a few per connection take turns at the socket. The one reading parses a whole batch
 * of requests, keeps the first, queues the rest for the others, and runs its request by calling
 * {@code submit} (which does file I/O on the calling thread). Replies are queued as requests
 * complete, in any order, and whichever thread finds the queue non-empty with nobody writing
 * sends all of them in one gathering write. Requests, buffers and reply headers are pooled: nothing
 * is allocated per request once the pools are warm, and no lock is held across I/O.
 */
final class Connection implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(Connection.class);
  /** TRIM and WRITE_ZEROES may cover up to 4 GiB; the kernel takes at most this much at once. */
  private static final int PIECE = 1 << 30;
  /** Queued work, in expected nanoseconds, above which another thread is woken to share it. */
  private static final long HANDOFF_NANOS = 200_000;
  /** A request this long keeps a thread busy long enough to read the next ones meanwhile. */
  private static final long LARGE = 256 * 1024;
  /** Most descriptors in one block status reply (proto.md allows up to 2^20). */
  private static final int MAX_EXTENTS = 64 * 1024;

  private final NbdServer server;
  private final SocketChannel channel;
  private final String peer;
  private final BufferPool pool;
  private final int maxPayload;
  private final int maxInFlight;
  private volatile Transport transport;
  private volatile Session session;
  private volatile Handshake handshake;
  private RequestReader reader;

  // Turn-taking at the socket and the queue of requests read but not started; under lock.
  private final Object lock = new Object();
  private final Thread[] idleThreads;
  private final List<Thread> workers = new ArrayList<>();
  private final int maxWorkers;
  private boolean reading;
  private int idle;
  private boolean inputEnded;
  private RequestSlot readyHead;
  private RequestSlot readyTail;
  private int readyCount;
  /** Recent time a request takes to start (and, for file I/O, to finish), smoothed. */
  private volatile long serviceNanos;

  // Slots: a stack popped only by the reader, pushed by whoever recycles.
  private final AtomicReference<RequestSlot> freeSlots = new AtomicReference<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private int created;
  private volatile Thread slotWaiter;
  private volatile Thread drainWaiter;

  // Replies: a stack any thread pushes to; the writer takes all of it at once.
  private final AtomicReference<RequestSlot> replies = new AtomicReference<>();
  private final AtomicBoolean writing = new AtomicBoolean();
  private ByteBuffer[] gather;
  private RequestSlot[] sent;
  private volatile boolean broken;
  private volatile boolean deviceGone;
  private final AtomicBoolean closed = new AtomicBoolean();

  Connection(NbdServer server, SocketChannel channel, String peer) {
    this.server = server;
    this.channel = channel;
    this.peer = peer;
    this.pool = server.buffers();
    this.maxPayload = server.config().maxPayload();
    this.maxInFlight = server.config().maxInFlight();
    this.idleThreads = new Thread[server.config().threadsPerConnection()];
    this.maxWorkers = server.config().threadsPerConnection() - 1;
    this.transport = new PlainTransport(channel);
  }

  /** The device this client uses, or null during the handshake. */
  MappedDevice device() {
    Session s = session;
    return s == null ? null : s.device();
  }

  @Override
  public void run() {
    try {
      if (!negotiate()) {
        return;
      }
      Session s = session;
      LOG.debug("{}: export {}{}{}", peer, s.device().name(),
          s.structured() ? ", structured replies" : "", transport.secure() ? ", TLS" : "");
      if (s.device().removed()) {
        deviceRemoved();
      }
      if (transport instanceof PlainTransport plain) {
        plain.poll(server.config().pollSpin().toNanos());
      }
      reader = new RequestReader(transport, this, pool, maxPayload, maxInFlight);
      gather = new ByteBuffer[maxInFlight];
      sent = new RequestSlot[maxInFlight];
      serve();
    } catch (ProtocolException e) {
      LOG.warn("{}: {}; disconnecting", peer, e.getMessage());
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
    Handshake h = new Handshake(channel, server.exports(), server.config().tls(),
        server.sslContext(), server::closing);
    handshake = h;
    ScheduledFuture<?> watchdog;
    try {
      watchdog = server.timer().schedule(() -> {
        LOG.warn("{}: handshake not finished within {}; disconnecting", peer,
            server.config().handshakeTimeout());
        h.transport().close();
      }, server.config().handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
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
   * Runs the transmission phase until the input ends: on this thread, and on up to
   * {@code threads-per-connection - 1} more, started the first time there is work for them.
   */
  private void serve() {
    work();
    while (true) {
      Thread t;
      synchronized (lock) {
        if (workers.isEmpty()) {
          break;
        }
        t = workers.removeLast();
      }
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    awaitDrained();
    IOException why = reader.failure();
    if (why instanceof ProtocolException) {
      LOG.warn("{}: {}; disconnecting", peer, why.getMessage());
    } else if (why != null) {
      LOG.debug("{}: {}", peer, why.toString());
    }
    reader.close();
  }

  private void work() {
    for (RequestSlot s; (s = nextRequest()) != null; ) {
      long t0 = System.nanoTime();
      start(s);
      long took = System.nanoTime() - t0;
      serviceNanos += (took - serviceNanos) >> 3;
    }
    flush();
  }

  /**
   * The next request to run: one already read, or, when none is and nobody is reading, a batch this
   * thread reads. Pending replies are sent before the thread sleeps or reads. Null at the end.
   * Waiting is {@code park} on a stack of idle threads, so turn-taking allocates nothing.
   */
  private RequestSlot nextRequest() {
    boolean flushed = false;
    Thread me = Thread.currentThread();
    while (true) {
      Thread wake = null;
      RequestSlot next = null;
      boolean flushFirst = false;
      boolean sleep = false;
      synchronized (lock) {
        removeIdle(me);
        if (readyHead != null) {
          next = readyHead;
          readyHead = next.next;
          next.next = null;
          readyCount--;
          if (readyHead != null && worthWaking(readyCount)) {
            wake = helper();
          }
        } else if (inputEnded) {
          return null;
        } else if (!flushed && replies.get() != null) {
          flushFirst = true;
        } else if (!reading) {
          reading = true;
        } else {
          idleThreads[idle++] = me;
          sleep = true;
        }
      }
      if (next != null) {
        wakeOrStart(wake);
        return next;
      }
      if (flushFirst) {
        flush();
        flushed = true;
      } else if (sleep) {
        LockSupport.park(this);
        flushed = false;
      } else {
        break;
      }
    }
    RequestSlot batch = reader.read();
    Thread[] wake = null;
    Thread one = null;
    synchronized (lock) {
      reading = false;
      if (batch == null || reader.ended()) {
        inputEnded = true;
      }
      if (batch != null && batch.next != null) {
        if (readyHead == null) {
          readyHead = batch.next;
        } else {
          readyTail.next = batch.next;
        }
        RequestSlot t = batch.next;
        readyCount++;
        while (t.next != null) {
          t = t.next;
          readyCount++;
        }
        readyTail = t;
        batch.next = null;
      }
      if (inputEnded) {
        wake = Arrays.copyOf(idleThreads, idle);
        Arrays.fill(idleThreads, null);
        idle = 0;
      } else if (worthWaking(readyCount + 1) || (batch != null && batch.length >= LARGE)) {
        // Another thread runs the queued requests, or reads the next ones while this one works.
        one = helper();
      }
    }
    if (wake != null) {
      for (Thread t : wake) {
        unpark(t);
      }
    }
    wakeOrStart(one);
    return batch;
  }

  /**
   * An idle thread to wake, or a new one (not yet started) while the connection has fewer than
   * {@code threads-per-connection}; null when all are busy. Called under the lock.
   */
  private Thread helper() {
    Thread t = popIdle();
    if (t == null && workers.size() < maxWorkers) {
      t = Thread.ofPlatform().daemon()
          .name("nbd-" + session.device().name() + "-" + workers.size())
          .unstarted(this::work);
      workers.add(t);
    }
    return t;
  }

  private static void wakeOrStart(Thread t) {
    if (t == null) {
      return;
    }
    if (t.getState() == Thread.State.NEW) {
      t.start();
    } else {
      LockSupport.unpark(t);
    }
  }

  private Thread popIdle() {
    if (idle == 0) {
      return null;
    }
    Thread t = idleThreads[--idle];
    idleThreads[idle] = null;
    return t;
  }

  /** Takes {@code t} off the idle stack if it is there (it woke by itself). */
  private void removeIdle(Thread t) {
    for (int i = 0; i < idle; i++) {
      if (idleThreads[i] == t) {
        idleThreads[i] = idleThreads[--idle];
        idleThreads[idle] = null;
        return;
      }
    }
  }

  private static void unpark(Thread t) {
    if (t != null) {
      LockSupport.unpark(t);
    }
  }

  /**
   * Whether {@code requests} of work ahead of this thread are worth waking another for: only when
   * they would keep it busy longer than a wake-up costs. Fast devices (page cache) then run a whole
   * batch on the thread that read it; slow ones, and large requests, get more threads of the
   * connection.
   */
  private boolean worthWaking(int requests) {
    return requests * serviceNanos > HANDOFF_NANOS;
  }

  // ------------------------------------------------------------------------------- slots

  /**
   * A free slot for the reader; waits for one when all are in flight and {@code mayWait}, else
   * returns null then.
   */
  RequestSlot takeSlot(boolean mayWait) {
    RequestSlot s = popFree();
    if (s == null && created < maxInFlight) {
      s = new RequestSlot(this, created++);
    }
    if (s == null && mayWait) {
      slotWaiter = Thread.currentThread();
      while ((s = popFree()) == null && !closed.get()) {
        LockSupport.park(this);
      }
      slotWaiter = null;
    }
    if (s != null) {
      inFlight.incrementAndGet();
    }
    return s;
  }

  private RequestSlot popFree() {
    RequestSlot t;
    do {
      t = freeSlots.get();
      if (t == null) {
        return null;
      }
    } while (!freeSlots.compareAndSet(t, t.next));
    t.next = null;
    return t;
  }

  /** Returns a slot that got no reply (a DISC, a request cut short). */
  void giveBack(RequestSlot s) {
    s.recycle(pool);
    RequestSlot t;
    do {
      t = freeSlots.get();
      s.next = t;
    } while (!freeSlots.compareAndSet(t, s));
    unpark(slotWaiter);
    if (inFlight.decrementAndGet() == 0) {
      unpark(drainWaiter);
    }
  }

  // -------------------------------------------------------------------------- requests

  /** Checks a request as proto.md asks and hands it to the device, or answers it at once. */
  private void start(RequestSlot s) {
    Session ss = session;
    MappedDevice dev = ss.device();
    if (s.early != null) {
      fail(s, s.early, s.early == IoStatus.ENOMEM
          ? "no memory for a WRITE of " + s.length + " bytes"
          : "WRITE payload of " + s.length + " bytes is above the maximum of " + maxPayload);
      return;
    }
    if (deviceGone) {
      fail(s, IoStatus.ESHUTDOWN, "export " + dev.name() + " was removed");
      return;
    }
    int bad = s.flags & ~allowedFlags(s.type, ss);
    if (bad != 0) {
      fail(s, IoStatus.EINVAL, String.format("flags 0x%x are not valid on %s", bad,
          NbdWire.commandName(s.type)));
      return;
    }
    switch (s.type) {
      case NbdWire.CMD_READ -> {
        if (checkRange(s, dev, true)) {
          ByteBuffer b = pool.take((int) s.length);
          if (b == null) {
            fail(s, IoStatus.ENOMEM, "no memory for a READ of " + s.length + " bytes");
            return;
          }
          s.data = b;
          s.io.prepare(IoOp.READ, 0, s.offset >>> IoRequest.SECTOR_SHIFT, (int) s.length, b,
              BufferPool.HEADER_ROOM, s);
          submit(s, dev);
        }
      }
      case NbdWire.CMD_WRITE -> {
        if (checkWritable(s, dev) && checkRange(s, dev, true)) {
          ByteBuffer b = s.data != null ? s.data : s.chunk.view(s.index);
          s.io.prepare(IoOp.WRITE, fua(s), s.offset >>> IoRequest.SECTOR_SHIFT, (int) s.length, b,
              s.dataOffset, s);
          submit(s, dev);
        }
      }
      case NbdWire.CMD_FLUSH -> {
        if (s.offset != 0 || s.length != 0) {
          fail(s, IoStatus.EINVAL, "FLUSH must have offset and length 0");
        } else {
          s.io.prepare(IoOp.FLUSH, 0, 0, 0, null, 0, s);
          submit(s, dev);
        }
      }
      case NbdWire.CMD_TRIM -> {
        if (checkWritable(s, dev) && checkRange(s, dev, false)) {
          if ((ss.flags() & NbdWire.TF_SEND_TRIM) == 0) {
            fail(s, IoStatus.EINVAL, "TRIM is not offered on this export");
          } else {
            s.submitting();
            nextPiece(s, dev);
            s.submitted();
          }
        }
      }
      case NbdWire.CMD_WRITE_ZEROES -> {
        if (checkWritable(s, dev) && checkRange(s, dev, false)) {
          s.submitting();
          nextPiece(s, dev);
          s.submitted();
        }
      }
      case NbdWire.CMD_CACHE -> {
        if (checkRange(s, dev, false)) {
          s.replyOk();
          pushReply(s);
        }
      }
      case NbdWire.CMD_BLOCK_STATUS -> blockStatus(s, dev, ss);
      default -> fail(s, IoStatus.EINVAL, "unknown command " + s.type);
    }
  }

  private static int allowedFlags(int type, Session ss) {
    int f = (ss.flags() & NbdWire.TF_SEND_FUA) != 0 ? NbdWire.CMD_FLAG_FUA : 0;
    return f | switch (type) {
      case NbdWire.CMD_READ -> ss.structured() ? NbdWire.CMD_FLAG_DF : 0;
      case NbdWire.CMD_WRITE_ZEROES -> NbdWire.CMD_FLAG_NO_HOLE | NbdWire.CMD_FLAG_FAST_ZERO;
      case NbdWire.CMD_BLOCK_STATUS -> NbdWire.CMD_FLAG_REQ_ONE;
      default -> 0;
    };
  }

  private static int fua(RequestSlot s) {
    return (s.flags & NbdWire.CMD_FLAG_FUA) != 0 ? IoRequest.FUA : 0;
  }

  private boolean checkWritable(RequestSlot s, MappedDevice dev) {
    if (dev.readOnly()) {
      fail(s, IoStatus.EPERM, "export " + dev.name() + " is read-only");
      return false;
    }
    return true;
  }

  /**
   * Alignment, length and bounds as proto.md asks: EINVAL for unaligned or empty requests, for
   * READ or WRITE payloads above the maximum, and for reads, trims and queries past the end;
   * ENOSPC for writes past the end.
   */
  private boolean checkRange(RequestSlot s, MappedDevice dev, boolean payload) {
    long len = s.length;
    if (len == 0) {
      fail(s, IoStatus.EINVAL, NbdWire.commandName(s.type) + " of length 0");
      return false;
    }
    int align = Exports.minimumBlock(dev) - 1;
    if (((s.offset | len) & align) != 0) {
      fail(s, IoStatus.EINVAL, NbdWire.commandName(s.type) + " offset " + Long.toUnsignedString(
          s.offset) + " length " + len + " not aligned to " + (align + 1) + " bytes");
      return false;
    }
    if (payload && len > maxPayload) {
      fail(s, IoStatus.EINVAL, NbdWire.commandName(s.type) + " of " + len
          + " bytes is above the maximum payload of " + maxPayload);
      return false;
    }
    long size = dev.sizeInBytes();
    if (s.offset < 0 || s.offset > size - len) {
      boolean write = s.type == NbdWire.CMD_WRITE || s.type == NbdWire.CMD_WRITE_ZEROES;
      fail(s, write ? IoStatus.ENOSPC : IoStatus.EINVAL, NbdWire.commandName(s.type)
          + " offset " + Long.toUnsignedString(s.offset) + " length " + len
          + " is past the end of the export (" + size + " bytes)");
      return false;
    }
    return true;
  }

  private void submit(RequestSlot s, MappedDevice dev) {
    s.submitting();
    try {
      dev.submit(s.io);
    } catch (RuntimeException e) {
      // A bug below us: the request will never complete, so answer it here and keep serving.
      if (s.notCompleted()) {
        LOG.error("{}: {} on {} failed", peer, s, dev.name(), e);
        fail(s, IoStatus.EIO, NbdWire.commandName(s.type) + " failed inside the server");
      }
      return;
    }
    s.submitted();
  }

  /** Sends the next piece of a TRIM or WRITE_ZEROES (one piece unless it is over 1 GiB). */
  private void nextPiece(RequestSlot s, MappedDevice dev) {
    int n = (int) Math.min(s.length - s.done, PIECE);
    long sector = (s.offset + s.done) >>> IoRequest.SECTOR_SHIFT;
    s.done += n;
    if (s.type == NbdWire.CMD_TRIM) {
      s.io.prepare(IoOp.DISCARD, fua(s), sector, n, null, 0, s);
    } else {
      int f = fua(s)
          | ((s.flags & NbdWire.CMD_FLAG_NO_HOLE) != 0 ? IoRequest.NO_UNMAP : 0)
          | ((s.flags & NbdWire.CMD_FLAG_FAST_ZERO) != 0 ? IoRequest.FAST_ZERO : 0);
      s.io.prepare(IoOp.WRITE_ZEROES, f, sector, n, null, 0, s);
    }
    dev.submit(s.io);
  }

  private void blockStatus(RequestSlot s, MappedDevice dev, Session ss) {
    if (!ss.blockStatus()) {
      fail(s, IoStatus.EINVAL, "BLOCK_STATUS needs base:allocation selected with"
          + " NBD_OPT_SET_META_CONTEXT");
      return;
    }
    long len = s.length;
    long size = dev.sizeInBytes();
    int align = Exports.minimumBlock(dev) - 1;
    if (len == 0 || (s.offset & align) != 0 || s.offset < 0 || s.offset > size - len) {
      fail(s, IoStatus.EINVAL, "BLOCK_STATUS offset " + Long.toUnsignedString(s.offset)
          + " length " + len + " is unaligned or past the end of the export");
      return;
    }
    long sectors = (len + IoRequest.SECTOR_SIZE - 1) >>> IoRequest.SECTOR_SHIFT;
    if ((s.flags & NbdWire.CMD_FLAG_REQ_ONE) != 0) {
      s.beginExtents(s.head, 1, len);
    } else {
      ByteBuffer b = pool.take(NbdWire.CHUNK_HEADER + 4 + 8 * MAX_EXTENTS);
      if (b == null) {
        fail(s, IoStatus.ENOMEM, "no memory for a block status reply");
        return;
      }
      s.data = b;
      s.beginExtents(b, MAX_EXTENTS, Long.MAX_VALUE);
    }
    dev.blockStatus(s.offset >>> IoRequest.SECTOR_SHIFT, sectors, s);
    s.endExtents(len);
    pushReply(s);
  }

  private void fail(RequestSlot s, IoStatus status, String message) {
    s.replyError(NbdWire.error(status), message, session.structured());
    pushReply(s);
  }

  /** The device finished a request (or a piece of one): encode the reply and queue it. */
  void completed(RequestSlot s, IoStatus status) {
    Session ss = session;
    if (status.ok() && s.done < s.length
        && (s.type == NbdWire.CMD_TRIM || s.type == NbdWire.CMD_WRITE_ZEROES)) {
      nextPiece(s, ss.device());
      return;
    }
    if (status.ok()) {
      if (s.type == NbdWire.CMD_READ) {
        s.replyData(ss.structured());
      } else {
        s.replyOk();
      }
    } else {
      if (status == IoStatus.ESHUTDOWN) {
        deviceGone = true;
      }
      s.replyError(NbdWire.error(status), NbdWire.commandName(s.type) + " offset "
          + Long.toUnsignedString(s.offset) + " length " + s.length + " failed: " + status,
          ss.structured());
    }
    boolean inline = s.completedInline();
    pushReply(s);
    if (!inline) {
      flush();
    }
  }

  // ----------------------------------------------------------------------------- replies

  private void pushReply(RequestSlot s) {
    RequestSlot t;
    do {
      t = replies.get();
      s.next = t;
    } while (!replies.compareAndSet(t, s));
  }

  /** Sends every queued reply unless another thread is already at it (it then sends ours too). */
  private void flush() {
    while (replies.get() != null) {
      if (!writing.compareAndSet(false, true)) {
        return;
      }
      try {
        writeQueued();
      } finally {
        writing.set(false);
      }
    }
  }

  private void writeQueued() {
    RequestSlot list = replies.getAndSet(null);
    // The stack is newest first; reverse it so replies leave in completion order.
    RequestSlot fifo = null;
    while (list != null) {
      RequestSlot n = list.next;
      list.next = fifo;
      fifo = list;
      list = n;
    }
    int n = 0;
    for (RequestSlot s = fifo; s != null; s = s.next) {
      gather[n] = s.reply[0];
      sent[n++] = s;
    }
    if (!broken) {
      try {
        transport.write(gather, 0, n);
      } catch (IOException e) {
        broken = true;
        LOG.debug("{}: reply not delivered: {}", peer, e.toString());
        transport.shutdownInput();
      }
    }
    for (int i = 0; i < n; i++) {
      gather[i] = null;
      RequestSlot s = sent[i];
      sent[i] = null;
      giveBack(s);
    }
  }

  private void awaitDrained() {
    drainWaiter = Thread.currentThread();
    while (inFlight.get() > 0) {
      LockSupport.parkNanos(this, 10_000_000L);
    }
    drainWaiter = null;
    flush();
  }

  // --------------------------------------------------------------------------- lifecycle

  /** The device went away: answer ESHUTDOWN from now on, and cut the client off after a grace. */
  void deviceRemoved() {
    deviceGone = true;
    try {
      server.timer().schedule(() -> {
        if (!closed.get()) {
          LOG.info("{}: export {} was removed; disconnecting", peer, device().name());
          transport.shutdownInput();
        }
      }, server.config().shutdownGrace().toMillis(), TimeUnit.MILLISECONDS);
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
