package dev.jdm.nbd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/** The socket itself: reads and gathering writes go straight to the channel, without copies. */
final class PlainTransport implements Transport {
  private final SocketChannel channel;

  PlainTransport(SocketChannel channel) {
    this.channel = channel;
  }

  SocketChannel channel() {
    return channel;
  }

  @Override
  public int read(ByteBuffer dst) throws IOException {
    return channel.read(dst);
  }

  @Override
  public void write(ByteBuffer[] srcs, int offset, int length) throws IOException {
    int end = offset + length;
    while (offset < end) {
      channel.write(srcs, offset, end - offset);
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
  }
}
