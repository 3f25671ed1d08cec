package dev.jdm.nbd;

import dev.jdm.nbd.protocol.NbdWire;
import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A deliberately plain NBD client for protocol-level tests: it can speak the protocol right, and it
 * can send anything at all. Not thread-safe.
 */
final class NbdTestClient implements AutoCloseable {
  final SocketChannel channel;
  long size;
  int transmissionFlags;
  boolean structured;
  private final Map<Long, Long> readLengths = new HashMap<>();

  private NbdTestClient(SocketChannel channel) {
    this.channel = channel;
  }

  /** A connected socket; nothing read or sent yet. */
  static NbdTestClient connect(String socket) throws IOException {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    ch.connect(UnixDomainSocketAddress.of(socket));
    return new NbdTestClient(ch);
  }

  /** Connects and enters transmission on {@code export} with NBD_OPT_GO. */
  static NbdTestClient open(String socket, String export, boolean structured, boolean blockStatus)
      throws IOException {
    NbdTestClient c = connect(socket);
    c.greet();
    if (structured) {
      c.expectAck(NbdWire.OPT_STRUCTURED_REPLY, new byte[0]);
      c.structured = true;
    }
    if (blockStatus) {
      c.expectAck(NbdWire.OPT_SET_META_CONTEXT, metaQuery(export, NbdWire.BASE_ALLOCATION));
    }
    List<OptionReply> go = c.optionAll(NbdWire.OPT_GO, goData(export));
    OptionReply last = go.getLast();
    if (last.type() != NbdWire.REP_ACK) {
      throw new IOException("GO " + export + " refused: " + last);
    }
    for (OptionReply r : go) {
      ByteBuffer b = ByteBuffer.wrap(r.data());
      if (r.type() == NbdWire.REP_INFO && b.getShort() == NbdWire.INFO_EXPORT) {
        c.size = b.getLong();
        c.transmissionFlags = b.getShort() & 0xffff;
      }
    }
    return c;
  }

  /**
   * Connects and enters transmission on {@code export} with NBD_OPT_EXPORT_NAME, as old clients
   * do: no block sizes agreed on.
   */
  static NbdTestClient openByName(String socket, String export) throws IOException {
    NbdTestClient c = connect(socket);
    c.greet();
    c.sendOption(NbdWire.OPT_EXPORT_NAME, export.getBytes(StandardCharsets.UTF_8));
    ByteBuffer b = c.read(10);
    c.size = b.getLong();
    c.transmissionFlags = b.getShort() & 0xffff;
    return c;
  }

  /** Reads the greeting and answers with fixed newstyle and no zeroes. */
  void greet() throws IOException {
    ByteBuffer g = read(18);
    if (g.getLong() != NbdWire.NBDMAGIC || g.getLong() != NbdWire.IHAVEOPT) {
      throw new IOException("bad greeting");
    }
    send(ByteBuffer.allocate(4).putInt(NbdWire.CLIENT_FIXED_NEWSTYLE | NbdWire.CLIENT_NO_ZEROES)
        .flip());
  }

  static byte[] goData(String export) {
    byte[] n = export.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(4 + n.length + 2 + 2).putInt(n.length).put(n).putShort((short) 1)
        .putShort((short) NbdWire.INFO_BLOCK_SIZE).array();
  }

  static byte[] metaQuery(String export, String... queries) {
    byte[] n = export.getBytes(StandardCharsets.UTF_8);
    int len = 4 + n.length + 4;
    for (String q : queries) {
      len += 4 + q.getBytes(StandardCharsets.UTF_8).length;
    }
    ByteBuffer b = ByteBuffer.allocate(len).putInt(n.length).put(n).putInt(queries.length);
    for (String q : queries) {
      byte[] qb = q.getBytes(StandardCharsets.UTF_8);
      b.putInt(qb.length).put(qb);
    }
    return b.array();
  }

  /** An option reply. */
  record OptionReply(int option, int type, byte[] data) {
    String text() {
      return new String(data, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
      return String.format("option %d reply 0x%x '%s'", option, type, text());
    }
  }

  void sendOption(int option, byte[] data) throws IOException {
    send(ByteBuffer.allocate(16 + data.length).putLong(NbdWire.IHAVEOPT).putInt(option)
        .putInt(data.length).put(data).flip());
  }

  OptionReply readOptionReply() throws IOException {
    ByteBuffer h = read(20);
    long magic = h.getLong();
    if (magic != NbdWire.OPTION_REPLY_MAGIC) {
      throw new IOException(String.format("bad option reply magic 0x%x", magic));
    }
    int option = h.getInt();
    int type = h.getInt();
    int len = h.getInt();
    return new OptionReply(option, type, read(len).array());
  }

  /** Sends an option and reads replies up to the final one (ACK or an error). */
  List<OptionReply> optionAll(int option, byte[] data) throws IOException {
    sendOption(option, data);
    List<OptionReply> all = new ArrayList<>();
    while (true) {
      OptionReply r = readOptionReply();
      all.add(r);
      if (r.type() == NbdWire.REP_ACK || r.type() < 0) {
        return all;
      }
    }
  }

  void expectAck(int option, byte[] data) throws IOException {
    OptionReply last = optionAll(option, data).getLast();
    if (last.type() != NbdWire.REP_ACK) {
      throw new IOException("option " + option + " refused: " + last);
    }
  }

  /** Sends a request header (and payload for writes). */
  void request(int flags, int type, long cookie, long offset, long length, byte[] payload)
      throws IOException {
    ByteBuffer b = ByteBuffer.allocate(28 + (payload == null ? 0 : payload.length));
    b.putInt(NbdWire.REQUEST_MAGIC).putShort((short) flags).putShort((short) type).putLong(cookie)
        .putLong(offset).putInt((int) length);
    if (payload != null) {
      b.put(payload);
    }
    if (type == NbdWire.CMD_READ) {
      readLengths.put(cookie, length);
    }
    send(b.flip());
  }

  /** One reply: its cookie, error (0 on success), data of a READ, and for structured replies the
   * chunk types and the block status descriptors. */
  record Reply(long cookie, int error, byte[] data, List<Integer> chunkTypes, List<long[]> extents,
      String message) {}

  /** Reads the next whole reply (all chunks of a structured one). */
  Reply reply() throws IOException {
    ByteBuffer h = read(4);
    int magic = h.getInt();
    if (magic == NbdWire.SIMPLE_REPLY_MAGIC) {
      ByteBuffer r = read(12);
      int error = r.getInt();
      long cookie = r.getLong();
      Long len = readLengths.remove(cookie);
      byte[] data = error == 0 && len != null ? read(len.intValue()).array() : null;
      return new Reply(cookie, error, data, List.of(), List.of(), "");
    }
    if (magic != NbdWire.STRUCTURED_REPLY_MAGIC) {
      throw new IOException(String.format("bad reply magic 0x%08x", magic));
    }
    List<Integer> types = new ArrayList<>();
    List<long[]> extents = new ArrayList<>();
    byte[] data = null;
    int error = 0;
    String message = "";
    long cookie;
    while (true) {
      ByteBuffer c = read(16);
      int flags = c.getShort() & 0xffff;
      int type = c.getShort() & 0xffff;
      cookie = c.getLong();
      int len = c.getInt();
      ByteBuffer p = read(len);
      types.add(type);
      if (type == NbdWire.REPLY_TYPE_OFFSET_DATA) {
        p.getLong();
        data = new byte[len - 8];
        p.get(data);
      } else if (type == NbdWire.REPLY_TYPE_BLOCK_STATUS) {
        p.getInt();
        while (p.hasRemaining()) {
          extents.add(new long[] {p.getInt() & 0xffffffffL, p.getInt()});
        }
      } else if ((type & 0x8000) != 0) {
        error = p.getInt();
        int n = p.getShort() & 0xffff;
        byte[] m = new byte[n];
        p.get(m);
        message = new String(m, StandardCharsets.UTF_8);
      }
      if ((flags & NbdWire.REPLY_FLAG_DONE) != 0) {
        break;
      }
      c = read(4);
      if (c.getInt() != NbdWire.STRUCTURED_REPLY_MAGIC) {
        throw new IOException("bad chunk magic");
      }
    }
    readLengths.remove(cookie);
    return new Reply(cookie, error, data, types, extents, message);
  }

  Reply write(long offset, byte[] data) throws IOException {
    request(0, NbdWire.CMD_WRITE, 1, offset, data.length, data);
    return reply();
  }

  Reply readAt(long offset, int length) throws IOException {
    request(0, NbdWire.CMD_READ, 2, offset, length, null);
    return reply();
  }

  void disconnect() throws IOException {
    request(0, NbdWire.CMD_DISC, 0, 0, 0, null);
  }

  void send(ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      channel.write(b);
    }
  }

  void sendRaw(byte[] bytes) throws IOException {
    send(ByteBuffer.wrap(bytes));
  }

  ByteBuffer read(int n) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(n);
    while (b.hasRemaining()) {
      if (channel.read(b) < 0) {
        throw new EOFException("server closed the connection");
      }
    }
    return b.flip();
  }

  /**
   * Whether the server closes the connection within {@code seconds}, sending nothing more before
   * it does.
   */
  boolean closedByServer(int seconds) throws IOException {
    channel.configureBlocking(false);
    try (Selector s = Selector.open()) {
      channel.register(s, SelectionKey.OP_READ);
      if (s.select(seconds * 1000L) == 0) {
        return false;
      }
      try {
        return channel.read(ByteBuffer.allocate(1)) < 0;
      } catch (IOException e) {
        return true;
      }
    }
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
