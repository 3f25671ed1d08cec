package dev.jdm.nbd.protocol;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.function.Consumer;

/**
 * The socket itself: reads and gathering writes go straight to the channel, without copies.
 *
 * <p>Two modes. Blocking, for the handshake and for a connection waiting on a virtual thread for
 * its client's next request: a parked virtual thread costs no platform thread. Polling, for the
 * platform threads that serve requests: the socket turns non-blocking, a read can give up after
 * an idle time (the connection then goes back to waiting on its virtual thread), and a read that
 * finds nothing while more is expected soon (the rest of a large WRITE, the request after a large
 * one) keeps trying for a few microseconds before it sleeps in a selector. A client sending into
 * a socket whose reader sleeps pays for waking it on every send; one whose reader is awake does
 * not. For small requests polling bought nothing but server CPU, so they sleep at once.
 */
public final class PlainTransport implements Transport {
  private static final Consumer<SelectionKey> IGNORE = k -> { };

  private final SocketChannel channel;
  private long spinNanos;
  private boolean soon;
  private Selector readable;
  private Selector writable;

  /** The transport of {@code channel}, blocking until {@link #polling} says otherwise. */
  public PlainTransport(SocketChannel channel) {
    this.channel = channel;
  }

  /** The socket. */
  public SocketChannel channel() {
    return channel;
  }

  @Override
  public void polling(long spin) throws IOException {
    if (readable != null) {
      return;
    }
    spinNanos = spin;
    readable = Selector.open();
    try {
      writable = Selector.open();
      channel.configureBlocking(false);
      channel.register(readable, SelectionKey.OP_READ);
      channel.register(writable, SelectionKey.OP_WRITE);
    } catch (IOException | RuntimeException e) {
      closeSelectors();
      throw e;
    }
  }

  @Override
  public void blocking() throws IOException {
    if (readable == null) {
      return;
    }
    // Closing a selector deregisters the channel from it, which blocking mode needs.
    closeSelectors();
    channel.configureBlocking(true);
  }

  private void closeSelectors() {
    for (Selector sel : new Selector[] {readable, writable}) {
      if (sel != null) {
        try {
          sel.close();
        } catch (IOException e) {
          // nothing left to release
        }
      }
    }
    readable = null;
    writable = null;
  }

  @Override
  public void expect(boolean soon) {
    this.soon = soon;
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
    int n = channel.read(dst);
    Selector sel = readable;
    if (n != 0 || sel == null) {
      return n;
    }
    if (soon) {
      long deadline = System.nanoTime() + spinNanos;
      do {
        Thread.onSpinWait();
        n = channel.read(dst);
        if (n != 0) {
          return n;
        }
      } while (System.nanoTime() - deadline < 0);
    }
    long idleEnd = System.nanoTime() + idleNanos;
    while (channel.isOpen()) {
      if (mayIdle) {
        long left = idleEnd - System.nanoTime();
        if (left <= 0) {
          return 0;
        }
        sel.select(IGNORE, Math.max(1, left / 1_000_000));
      } else {
        sel.select(IGNORE);
      }
      n = channel.read(dst);
      if (n != 0) {
        return n;
      }
    }
    return -1;
  }

  @Override
  public void write(ByteBuffer[] srcs, int offset, int length) throws IOException {
    int end = offset + length;
    while (offset < end) {
      Selector sel = writable;
      if (channel.write(srcs, offset, end - offset) == 0 && sel != null) {
        sel.select(IGNORE);
      }
      while (offset < end && !srcs[offset].hasRemaining()) {
        offset++;
      }
    }
  }

  @Override
  public void shutdownInput() {
    try {
      channel.shutdownInput();
    } catch (IOException e) {
      // already closed: reads end anyway
    }
    Selector sel = readable;
    if (sel != null) {
      sel.wakeup();
    }
  }

  @Override
  public boolean secure() {
    return false;
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException e) {
      // nothing left to release
    }
    closeSelectors();
  }
}
