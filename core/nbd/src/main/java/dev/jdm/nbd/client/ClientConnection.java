package dev.jdm.nbd.client;

import dev.jdm.nbd.protocol.NbdWire;
import dev.jdm.nbd.protocol.PlainTransport;
import dev.jdm.nbd.protocol.ProtocolException;
import dev.jdm.nbd.protocol.Transport;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.channels.UnresolvedAddressException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to the server and the thread that owns it: connects and negotiates, reads replies
 * until the connection fails, hands what was in flight back to the device, then reconnects with a
 * growing pause until it is closed. Requests are sent by whoever submits them, one sender at a
 * time, never by this thread (a reader blocked on sending to a server blocked on sending replies
 * would hang both).
 *
 * <p>Locks: the send lock is held while a job's commands are written; this object's monitor guards
 * the free slots and the connection state, briefly. The cleanup after a failure takes the send lock
 * and then the monitor, so no sender is still writing a job it hands back.
 */
final class ClientConnection implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(ClientConnection.class);

  private final NbdDevice device;
  private final int number;
  private final Job[] jobs;
  private final int[] free;
  private int freeCount;
  private final IoRequest[] orphans;
  private final BlockStatusCall[] orphanCalls;
  private final Object sendLock = new Object();
  private final ReplyReader reader = new ReplyReader(this);
  /** Changes whenever the connection goes up or down; guarded by the monitor and the send lock. */
  private int epoch;
  private volatile Transport transport;
  /** Why a sender closed the transport, which the reader then sees only as a closed channel. */
  private volatile IOException sendFailure;
  private volatile boolean up;
  private volatile boolean closing;
  /** Why the last attempt to reconnect failed, for the device's state. */
  private volatile String lastFailure;
  private volatile Thread thread;
  private ClientHandshake.Export export;

  ClientConnection(NbdDevice device, int number, int maxInFlight) {
    this.device = device;
    this.number = number;
    this.jobs = new Job[maxInFlight];
    this.free = new int[maxInFlight];
    for (int i = 0; i < maxInFlight; i++) {
      jobs[i] = new Job(this, i);
      free[i] = maxInFlight - 1 - i;
    }
    this.freeCount = maxInFlight;
    this.orphans = new IoRequest[maxInFlight];
    this.orphanCalls = new BlockStatusCall[maxInFlight];
  }

  // ------------------------------------------------------------------ connecting

  /** Connects and negotiates; the export the server describes. */
  ClientHandshake.Result connect() throws IOException {
    NbdUri uri = device.uri();
    SocketAddress address;
    SocketChannel ch;
    if (uri.socket() != null) {
      address = UnixDomainSocketAddress.of(uri.socket());
      ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    } else {
      address = new InetSocketAddress(uri.host(), uri.port());
      if (((InetSocketAddress) address).isUnresolved()) {
        throw new IOException("unknown host " + uri.host());
      }
      ch = SocketChannel.open();
    }
    ScheduledFuture<?> timer = NbdDevice.TIMER.schedule(() -> quietClose(ch),
        device.options().connectTimeout().toMillis(), TimeUnit.MILLISECONDS);
    try {
      ch.connect(address);
      if (uri.socket() == null) {
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        ch.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
      }
      ClientHandshake.Result r = ClientHandshake.run(new PlainTransport(ch), uri, device.ssl());
      if (!timer.cancel(false)) {
        throw new IOException("closed by the timeout");
      }
      return r;
    } catch (IOException | UnresolvedAddressException e) {
      timer.cancel(false);
      quietClose(ch);
      if (timer.isDone() && !timer.isCancelled()) {
        throw new IOException("no answer within " + device.options().connectTimeout().toMillis()
            + " ms");
      }
      throw e instanceof IOException io ? io : new IOException("unknown host " + uri.host());
    } catch (RuntimeException e) {
      timer.cancel(false);
      quietClose(ch);
      throw e;
    }
  }

  private static void quietClose(SocketChannel ch) {
    try {
      ch.close();
    } catch (IOException e) {
      // nothing left to release
    }
  }

  /** Makes {@code r}'s transport this connection's and starts the thread that reads it. */
  void start(ClientHandshake.Result r) {
    install(r);
    startThread();
  }

  /** Starts the thread with no connection yet: it connects, with retries. */
  void startThread() {
    thread = Thread.ofPlatform().daemon().name("nbd " + device.uri() + " #" + number)
        .start(this);
  }

  private void install(ClientHandshake.Result r) {
    synchronized (sendLock) {
      synchronized (this) {
        export = r.export();
        transport = r.transport();
        sendFailure = null;
        lastFailure = null;
        epoch++;
        up = true;
      }
    }
  }

  @Override
  public void run() {
    long delay = device.options().reconnectDelay().toNanos();
    long downSince = 0;
    while (!closing) {
      if (transport == null) {
        try {
          ClientHandshake.Result r = connect();
          try {
            device.check(r.export());
          } catch (IOException e) {
            r.transport().close();
            throw e;
          }
          install(r);
          delay = device.options().reconnectDelay().toNanos();
          device.connectionUp(this, System.nanoTime() - downSince);
        } catch (IOException | RuntimeException e) {
          if (closing) {
            break;
          }
          LOG.debug("{}: reconnecting failed: {}", this, e.toString());
          lastFailure = e.getMessage() != null ? e.getMessage() : e.toString();
          pause(delay);
          delay = Math.min(delay * 2, device.options().reconnectDelayMax().toNanos());
          continue;
        }
      }
      IOException cause;
      try {
        reader.run(transport, export);
        cause = new IOException("reader ended");
      } catch (IOException e) {
        cause = sendFailure != null && !(e instanceof ProtocolException) ? sendFailure : e;
      } catch (RuntimeException e) {
        cause = new ProtocolException("reply could not be decoded: " + e);
      }
      downSince = System.nanoTime();
      drop(cause);
    }
  }

  private void pause(long nanos) {
    try {
      TimeUnit.NANOSECONDS.sleep(nanos);
    } catch (InterruptedException e) {
      // closing: the loop sees it
    }
  }

  /**
   * Closes the transport, takes back every job, and hands their requests to the device: to send
   * again, or to fail with EIO when the server answered garbage.
   */
  private void drop(IOException cause) {
    Transport t = transport;
    if (t != null) {
      t.close();
    }
    int requests = 0;
    int calls = 0;
    synchronized (sendLock) {
      synchronized (this) {
        up = false;
        transport = null;
        epoch++;
        for (Job j : jobs) {
          if (j.request != null) {
            orphans[requests++] = j.request;
          } else if (j.call != null) {
            orphanCalls[calls++] = j.call;
          } else {
            continue;
          }
          j.clear();
          free[freeCount++] = j.index;
        }
      }
    }
    for (int i = 0; i < calls; i++) {
      orphanCalls[i].end(IoStatus.EIO);
      orphanCalls[i] = null;
    }
    boolean garbage = cause instanceof ProtocolException;
    boolean ending = closing;
    if (!ending) {
      device.connectionLost(this, cause, garbage, orphans, requests);
    }
    for (int i = 0; i < requests; i++) {
      if (ending) {
        orphans[i].complete(IoStatus.EIO);
      }
      orphans[i] = null;
    }
  }

  // ------------------------------------------------------------------ jobs

  /**
   * Takes a free job and sets it up for {@code r}: a token for {@link #send(long)}, or -1 when no
   * job is free or the connection is down.
   */
  synchronized long take(IoRequest r) {
    if (!up || freeCount == 0) {
      return -1;
    }
    Job j = jobs[free[--freeCount]];
    j.epoch = epoch;
    j.start(r, export);
    return token(j);
  }

  /** Like {@link #take}, for a block status call. */
  synchronized long takeForStatus(BlockStatusCall c, long offset, long length) {
    if (!up || freeCount == 0) {
      return -1;
    }
    Job j = jobs[free[--freeCount]];
    j.epoch = epoch;
    j.startStatus(c, offset, length);
    return token(j);
  }

  /** The job and the sequence number it had when taken, so a stale token sends nothing. */
  private static long token(Job j) {
    return (long) j.seq << 32 | j.index;
  }

  /**
   * Writes the commands of the job's current phase, if the job still is what the caller took
   * ({@code token}) in this connection's epoch; else the cleanup already took it back. A write that
   * fails closes the transport: the reader then cleans up.
   */
  void send(long token) {
    send(jobs[(int) token & 0xff], (int) (token >>> 32));
  }

  /** Sends the job's current phase if it still is {@code seq}; see {@link #send(long)}. */
  void send(Job j, int seq) {
    boolean last;
    synchronized (sendLock) {
      Transport t = transport;
      if (t == null || j.epoch != epoch || j.seq != seq) {
        return;
      }
      try {
        for (int part = 0; part < j.parts; part++) {
          write(t, j, part);
        }
      } catch (IOException e) {
        LOG.debug("{}: send failed: {}", this, e.toString());
        if (sendFailure == null) {
          sendFailure = e;
        }
        t.close();
      } catch (RuntimeException e) {
        LOG.warn("{}: cannot send {}: {}", this, j.request, e.toString());
        t.close();
      }
      last = j.holds.decrementAndGet() == 0;
    }
    if (last) {
      finish(j, seq);
    }
  }

  private static void write(Transport t, Job j, int part) throws IOException {
    long off = j.partOffset(part);
    long len = j.partLength(part);
    ByteBuffer h = j.header;
    h.clear();
    h.putInt(NbdWire.REQUEST_MAGIC).putShort((short) j.cmdFlags).putShort((short) j.cmd)
        .putLong(j.cookie(part)).putLong(off).putInt((int) len).flip();
    j.out[0] = h;
    if (j.cmd == NbdWire.CMD_WRITE) {
      j.out[1] = j.window(off, len);
      try {
        t.write(j.out, 0, 2);
      } finally {
        j.restore();
      }
    } else {
      t.write(j.out, 0, 1);
    }
  }

  /** The job a reply's cookie names; garbage when it names none in flight. */
  Job lookup(long cookie) throws ProtocolException {
    int index = (int) (cookie >>> 24) & 0xff;
    int part = (int) (cookie & 0xffffff);
    Job j = index < jobs.length ? jobs[index] : null;
    if (j == null || j.seq != (int) (cookie >>> 32) || part >= j.parts || j.remaining <= 0
        || j.request == null && j.call == null) {
      throw new ProtocolException(String.format("reply for cookie 0x%016x, which no request in"
          + " flight has", cookie));
    }
    return j;
  }

  /** Every reply of phase {@code seq} of the job is in. */
  void repliesDone(Job j, int seq) {
    if (j.holds.decrementAndGet() == 0) {
      finish(j, seq);
    }
  }

  /**
   * Phase {@code seq} of the job ended: the next phase, or the end of the request. Nothing happens
   * when the cleanup after a dropped connection took the job back first.
   */
  private void finish(Job j, int seq) {
    IoRequest r;
    BlockStatusCall c;
    IoStatus s;
    int next;
    synchronized (this) {
      if (j.seq != seq) {
        return;
      }
      s = j.status;
      if (s == IoStatus.OK && j.next()) {
        next = j.seq;
        r = null;
        c = null;
      } else {
        next = 0;
        r = j.request;
        c = j.call;
        j.clear();
        free[freeCount++] = j.index;
      }
    }
    if (r == null && c == null) {
      device.continueLater(j, next);
    } else if (c != null) {
      c.end(s);
      device.jobFreed();
    } else if (s == IoStatus.ESHUTDOWN && !closing) {
      // The server is going away and did not do it: send it again once it is back.
      device.requeue(r);
    } else {
      r.complete(s);
      device.jobFreed();
    }
  }

  /** Why the last attempt to reconnect failed, or null. */
  String lastFailure() {
    return lastFailure;
  }

  /** Whether the current thread is this connection's reader. */
  boolean isReader(Thread t) {
    return thread == t;
  }

  // ------------------------------------------------------------------ closing

  /** Says goodbye (NBD_CMD_DISC), closes the socket and ends the thread. */
  void close() {
    closing = true;
    synchronized (sendLock) {
      Transport t = transport;
      if (t != null) {
        ByteBuffer h = ByteBuffer.allocate(NbdWire.REQUEST_HEADER);
        h.putInt(NbdWire.REQUEST_MAGIC).putShort((short) 0).putShort((short) NbdWire.CMD_DISC)
            .putLong(0).putLong(0).putInt(0).flip();
        try {
          t.write(h);
        } catch (IOException e) {
          // the server is gone already
        }
        t.close();
      }
    }
    Thread th = thread;
    if (th != null) {
      th.interrupt();
      try {
        th.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public String toString() {
    return device.uri() + " #" + number;
  }
}
