package dev.jdm.nbd.protocol;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;

/**
 * TLS over the socket through the JDK's {@link SSLEngine}, entered after NBD_OPT_STARTTLS, on
 * either side of the connection. The reading side owns the inbound buffers and the writing side the
 * outbound one, so one thread can read while another writes, as {@code SSLEngine} allows.
 */
public final class TlsTransport implements Transport {
  private static final ByteBuffer EMPTY = ByteBuffer.allocate(0);

  private final PlainTransport raw;
  private final SocketChannel channel;
  private final SSLEngine engine;
  private final ReentrantLock writeLock = new ReentrantLock();
  private ByteBuffer netIn;
  private ByteBuffer appIn;
  private final ByteBuffer netOut;
  private final ByteBuffer[] netOutArray;

  private TlsTransport(PlainTransport raw, SSLEngine engine) {
    this.raw = raw;
    this.channel = raw.channel();
    this.engine = engine;
    int packet = engine.getSession().getPacketBufferSize();
    this.netIn = ByteBuffer.allocateDirect(packet);
    this.appIn = ByteBuffer.allocateDirect(engine.getSession().getApplicationBufferSize());
    this.appIn.flip();
    this.netOut = ByteBuffer.allocateDirect(packet);
    this.netOutArray = new ByteBuffer[] {netOut};
  }

  /** Runs the server side of a TLS handshake on {@code channel}; throws if it fails. */
  public static TlsTransport accept(PlainTransport raw, SSLContext context,
      boolean needClientAuth) throws IOException {
    SSLEngine engine = context.createSSLEngine();
    engine.setUseClientMode(false);
    engine.setNeedClientAuth(needClientAuth);
    TlsTransport t = new TlsTransport(raw, engine);
    t.handshake();
    return t;
  }

  /**
   * Runs the client side of a TLS handshake on {@code channel}; throws if it fails. When
   * {@code host} is not null the server's certificate must name it.
   */
  public static TlsTransport connect(PlainTransport raw, SSLContext context, String host)
      throws IOException {
    SSLEngine engine = host == null ? context.createSSLEngine() : context.createSSLEngine(host, 0);
    engine.setUseClientMode(true);
    if (host != null) {
      SSLParameters p = engine.getSSLParameters();
      p.setEndpointIdentificationAlgorithm("HTTPS");
      engine.setSSLParameters(p);
    }
    TlsTransport t = new TlsTransport(raw, engine);
    t.handshake();
    return t;
  }

  private void handshake() throws IOException {
    engine.beginHandshake();
    HandshakeStatus hs = engine.getHandshakeStatus();
    while (hs != HandshakeStatus.FINISHED && hs != HandshakeStatus.NOT_HANDSHAKING) {
      switch (hs) {
        case NEED_WRAP -> hs = wrapEmpty();
        case NEED_TASK -> hs = runTasks();
        default -> {
          SSLEngineResult r = unwrap(0, false);
          if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
            throw new EOFException("peer closed during the TLS handshake");
          }
          hs = r.getHandshakeStatus();
        }
      }
    }
  }

  private HandshakeStatus runTasks() {
    for (Runnable task; (task = engine.getDelegatedTask()) != null; ) {
      task.run();
    }
    return engine.getHandshakeStatus();
  }

  private HandshakeStatus wrapEmpty() throws IOException {
    writeLock.lock();
    try {
      netOut.clear();
      SSLEngineResult r = engine.wrap(EMPTY, netOut);
      netOut.flip();
      writeNet();
      return r.getHandshakeStatus();
    } finally {
      writeLock.unlock();
    }
  }

  /**
   * Unwraps one record into {@code appIn} (in fill mode), reading from the socket as needed;
   * null when {@code mayIdle} and the socket stayed quiet for {@code idleNanos}.
   */
  private SSLEngineResult unwrap(long idleNanos, boolean mayIdle) throws IOException {
    while (true) {
      netIn.flip();
      SSLEngineResult r = engine.unwrap(netIn, appIn);
      netIn.compact();
      switch (r.getStatus()) {
        case OK, CLOSED -> {
          return r;
        }
        case BUFFER_UNDERFLOW -> {
          if (!netIn.hasRemaining()) {
            netIn = grow(netIn, engine.getSession().getPacketBufferSize());
          }
          int n = mayIdle ? raw.read(netIn, idleNanos) : raw.read(netIn);
          if (n == 0) {
            return null;
          }
          if (n < 0) {
            throw new EOFException("connection closed inside a TLS record");
          }
        }
        case BUFFER_OVERFLOW ->
            appIn = grow(appIn, engine.getSession().getApplicationBufferSize());
      }
    }
  }

  private static ByteBuffer grow(ByteBuffer b, int atLeast) {
    ByteBuffer n = ByteBuffer.allocateDirect(Math.max(atLeast, b.capacity() * 2));
    b.flip();
    n.put(b);
    return n;
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    return read(dst, 0, false);
  }

  @Override
  public int read(ByteBuffer dst, long idleNanos) throws IOException {
    return read(dst, idleNanos, true);
  }

  private int read(ByteBuffer dst, long idleNanos, boolean mayIdle) throws IOException {
    while (!appIn.hasRemaining()) {
      appIn.clear();
      SSLEngineResult r;
      try {
        r = unwrap(idleNanos, mayIdle);
      } finally {
        appIn.flip();
      }
      if (r == null) {
        return 0;
      }
      if (r.getStatus() == SSLEngineResult.Status.CLOSED && !appIn.hasRemaining()) {
        return -1;
      }
      HandshakeStatus hs = r.getHandshakeStatus();
      while (hs == HandshakeStatus.NEED_TASK || hs == HandshakeStatus.NEED_WRAP) {
        hs = hs == HandshakeStatus.NEED_TASK ? runTasks() : wrapEmpty();
      }
    }
    int n = Math.min(dst.remaining(), appIn.remaining());
    int limit = appIn.limit();
    appIn.limit(appIn.position() + n);
    dst.put(appIn);
    appIn.limit(limit);
    return n;
  }

  @Override
  public void write(ByteBuffer[] srcs, int offset, int length) throws IOException {
    int end = offset + length;
    writeLock.lock();
    try {
      while (true) {
        while (offset < end && !srcs[offset].hasRemaining()) {
          offset++;
        }
        if (offset == end) {
          return;
        }
        netOut.clear();
        SSLEngineResult r = engine.wrap(srcs, offset, end - offset, netOut);
        if (r.getStatus() == SSLEngineResult.Status.CLOSED) {
          throw new SSLException("TLS session closed");
        }
        netOut.flip();
        writeNet();
      }
    } finally {
      writeLock.unlock();
    }
  }

  private void writeNet() throws IOException {
    raw.write(netOutArray, 0, 1);
  }

  @Override
  public void polling(long spinNanos) throws IOException {
    raw.polling(spinNanos);
  }

  @Override
  public void blocking() throws IOException {
    raw.blocking();
  }

  @Override
  public void shutdownInput() {
    raw.shutdownInput();
  }

  @Override
  public boolean secure() {
    return true;
  }

  @Override
  public void close() {
    // Say close_notify unless a writer is stuck on a peer that stopped reading.
    if (channel.isOpen() && writeLock.tryLock()) {
      try {
        engine.closeOutbound();
        netOut.clear();
        engine.wrap(EMPTY, netOut);
        netOut.flip();
        writeNet();
      } catch (IOException e) {
        // the peer is gone; closing the socket is all that is left
      } finally {
        writeLock.unlock();
      }
    }
    raw.close();
  }
}
