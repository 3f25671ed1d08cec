package dev.jdm.nbd.client;

import dev.jdm.nbd.protocol.NbdWire;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An NBD server that negotiates correctly, then answers every request with garbage: the narrow
 * seam no real server offers. One export of 1 MiB, simple replies only, on a Unix socket.
 */
final class GarbageServer implements AutoCloseable {
  private static final long SIZE = 1 << 20;
  private final ServerSocketChannel server;
  private final Path socket;
  private final Thread acceptor;
  final AtomicInteger connections = new AtomicInteger();

  GarbageServer(Path socket) throws IOException {
    this.socket = socket;
    Files.deleteIfExists(socket);
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    server.bind(UnixDomainSocketAddress.of(socket));
    acceptor = Thread.ofPlatform().daemon().name("garbage-server").start(this::accept);
  }

  String uri() {
    return "nbd+unix:///?socket=" + socket;
  }

  private void accept() {
    while (server.isOpen()) {
      try {
        SocketChannel c = server.accept();
        connections.incrementAndGet();
        Thread.ofPlatform().daemon().name("garbage-connection").start(() -> serve(c));
      } catch (IOException e) {
        return;
      }
    }
  }

  private static void serve(SocketChannel c) {
    try (c) {
      c.write(ByteBuffer.allocate(18).putLong(NbdWire.NBDMAGIC).putLong(NbdWire.IHAVEOPT)
          .putShort((short) (NbdWire.FLAG_FIXED_NEWSTYLE | NbdWire.FLAG_NO_ZEROES)).flip());
      read(c, 4);
      while (true) {
        ByteBuffer h = read(c, 16);
        int option = h.getInt(8);
        read(c, h.getInt(12));
        if (option != NbdWire.OPT_GO) {
          reply(c, option, NbdWire.REP_ERR_UNSUP, ByteBuffer.allocate(0));
          continue;
        }
        reply(c, option, NbdWire.REP_INFO, ByteBuffer.allocate(12)
            .putShort((short) NbdWire.INFO_EXPORT).putLong(SIZE)
            .putShort((short) (NbdWire.TF_HAS_FLAGS | NbdWire.TF_SEND_FLUSH)).flip());
        reply(c, option, NbdWire.REP_ACK, ByteBuffer.allocate(0));
        break;
      }
      while (true) {
        ByteBuffer req = read(c, NbdWire.REQUEST_HEADER);
        if (req.getShort(6) == NbdWire.CMD_WRITE) {
          read(c, req.getInt(24));
        }
        ByteBuffer junk = ByteBuffer.allocate(16);
        for (int i = 0; i < 16; i++) {
          junk.put((byte) 0xde);
        }
        c.write(junk.flip());
      }
    } catch (IOException e) {
      // the client hung up
    }
  }

  private static void reply(SocketChannel c, int option, int type, ByteBuffer data)
      throws IOException {
    ByteBuffer h = ByteBuffer.allocate(20).putLong(NbdWire.OPTION_REPLY_MAGIC).putInt(option)
        .putInt(type).putInt(data.remaining()).flip();
    c.write(new ByteBuffer[] {h, data});
  }

  private static ByteBuffer read(SocketChannel c, int n) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(n);
    while (b.hasRemaining()) {
      if (c.read(b) < 0) {
        throw new IOException("closed");
      }
    }
    return b.flip();
  }

  @Override
  public void close() throws IOException, InterruptedException {
    server.close();
    acceptor.join(5000);
    Files.deleteIfExists(socket);
  }
}
