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
 * <p>In transmission it can poll: the socket turns non-blocking, and a read that finds nothing
 * while more is expected soon (the rest of a large WRITE, the request after a large one) keeps
 * trying for a few microseconds before it sleeps in a selector. A client sending into a socket
 * whose reader sleeps pays for waking it on every send; one whose reader is awake does not. For
 * small requests polling bought nothing but server CPU, so they sleep at once.
 */
public final class PlainTransport implements Transport {
  private static final Consumer<SelectionKey> IGNORE = k -> { };

  private final SocketChannel channel;
  private long spinNanos;
  private boolean soon;
  private Selector readable;
  private Selector writable;

  /** The transport of {@code channel}, blocking until {@link #poll} says otherwise. */
  public PlainTransport(SocketChannel channel) {
    this.channel = channel;
  }

  /** The socket. */
  public SocketChannel channel() {
    return channel;
  }

  /** Makes reads poll for {@code nanos} before they sleep; 0 keeps the socket blocking. */
  public void poll(long nanos) throws IOException {
    if (nanos <= 0) {
      return;
    }
    spinNanos = nanos;
    readable = Selector.open();
    writable = Selector.open();
    channel.configureBlocking(false);
    channel.register(readable, SelectionKey.OP_READ);
    channel.register(writable, SelectionKey.OP_WRITE);
  }

  @Override
  public void expect(boolean soon) {
    this.soon = soon;
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    int n = channel.read(dst);
    if (n != 0 || readable == null) {
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
    while (channel.isOpen()) {
      readable.select(IGNORE);
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
      if (channel.write(srcs, offset, end - offset) == 0 && writable != null) {
        writable.select(IGNORE);
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
    if (readable != null) {
      readable.wakeup();
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
    for (Selector s : new Selector[] {readable, writable}) {
      if (s != null) {
        try {
          s.close();
        } catch (IOException e) {
          // nothing left to release
        }
      }
    }
  }
}
