package dev.jdm.nbd.client;

import dev.jdm.nbd.protocol.NbdWire;
import dev.jdm.nbd.protocol.PlainTransport;
import dev.jdm.nbd.protocol.ProtocolException;
import dev.jdm.nbd.protocol.TlsTransport;
import dev.jdm.nbd.protocol.Transport;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLContext;

/**
 * The client side of the fixed newstyle handshake (proto.md "Handshake"): the greeting, STARTTLS
 * when TLS is wanted, structured replies, the base:allocation context, then NBD_OPT_GO with a
 * request for the block size constraints. Falls back to NBD_OPT_EXPORT_NAME for servers without
 * NBD_OPT_GO. Blocking; reads exactly what each message holds.
 */
final class ClientHandshake {
  /** The magic of oldstyle servers, which this client does not speak. */
  private static final long OLDSTYLE_MAGIC = 0x00420281861253L;
  /** Largest option reply taken; real ones are a few hundred bytes. */
  private static final int MAX_REPLY = 64 * 1024;
  /** The largest payload this client ever sends or asks for, whatever the server allows. */
  static final int PAYLOAD_CEILING = 32 << 20;

  /**
   * What the server said of the export.
   *
   * @param size bytes
   * @param flags transmission flags ({@code NbdWire.TF_*})
   * @param minBlock minimum block size, a power of two
   * @param preferredBlock preferred block size
   * @param maxPayload largest READ / WRITE payload, a multiple of minBlock
   * @param structured whether structured replies are on
   * @param allocationContext the id of base:allocation, 0 when not selected
   */
  record Export(long size, int flags, int minBlock, int preferredBlock, int maxPayload,
      boolean structured, int allocationContext) {
    boolean has(int flag) {
      return (flags & flag) != 0;
    }
  }

  /** The transport to use from now on (TLS after STARTTLS) and the export. */
  record Result(Transport transport, Export export) {}

  private final NbdUri uri;
  private final SSLContext ssl;
  private Transport t;
  private boolean noZeroes;

  private ClientHandshake(PlainTransport plain, NbdUri uri, SSLContext ssl) {
    this.t = plain;
    this.uri = uri;
    this.ssl = ssl;
  }

  /**
   * Negotiates on {@code plain}; {@code ssl} is the context for STARTTLS when the URI asks for TLS.
   *
   * @throws ProtocolException when the server broke the protocol
   * @throws IOException with a short reason when the server refused (no such export, TLS needed)
   */
  static Result run(PlainTransport plain, NbdUri uri, SSLContext ssl) throws IOException {
    ClientHandshake h = new ClientHandshake(plain, uri, ssl);
    Export e = h.negotiate();
    return new Result(h.t, e);
  }

  private Export negotiate() throws IOException {
    ByteBuffer hello = read(16);
    long magic = hello.getLong();
    long second = hello.getLong();
    if (magic != NbdWire.NBDMAGIC) {
      throw new ProtocolException(String.format("not an NBD server (greeting 0x%016x)", magic));
    }
    if (second == OLDSTYLE_MAGIC) {
      throw new IOException("oldstyle NBD servers are not supported");
    }
    if (second != NbdWire.IHAVEOPT) {
      throw new ProtocolException(String.format("unknown handshake magic 0x%016x", second));
    }
    int serverFlags = read(2).getShort() & 0xffff;
    if ((serverFlags & NbdWire.FLAG_FIXED_NEWSTYLE) == 0) {
      throw new IOException("the server does not speak fixed newstyle");
    }
    noZeroes = (serverFlags & NbdWire.FLAG_NO_ZEROES) != 0;
    send(ByteBuffer.allocate(4).putInt(NbdWire.CLIENT_FIXED_NEWSTYLE
        | (noZeroes ? NbdWire.CLIENT_NO_ZEROES : 0)).flip());

    if (uri.tls()) {
      startTls();
    }
    boolean structured = simpleOption(NbdWire.OPT_STRUCTURED_REPLY);
    int context = structured ? allocationContext() : 0;
    return go(structured, context);
  }

  private void startTls() throws IOException {
    option(NbdWire.OPT_STARTTLS, new byte[0]);
    Reply r = reply(NbdWire.OPT_STARTTLS);
    if (r.type != NbdWire.REP_ACK) {
      throw new IOException("the server refused STARTTLS" + r.why());
    }
    t = TlsTransport.connect((PlainTransport) t, ssl, uri.verifyPeer() ? uri.certificateName()
        : null);
  }

  /** Sends an option without data; true on ACK, false when the server does not know it. */
  private boolean simpleOption(int option) throws IOException {
    option(option, new byte[0]);
    Reply r = reply(option);
    if (r.type == NbdWire.REP_ACK) {
      return true;
    }
    if (r.type == NbdWire.REP_ERR_TLS_REQD) {
      throw tlsRequired();
    }
    if (r.isError()) {
      return false;
    }
    throw new ProtocolException("unexpected reply " + r.type + " to option " + option);
  }

  private IOException tlsRequired() {
    return new IOException("the server requires TLS (use nbds:// or nbds+unix://)");
  }

  /** Selects base:allocation; its id, or 0 when the server does not offer it. */
  private int allocationContext() throws IOException {
    byte[] name = uri.export().getBytes(StandardCharsets.UTF_8);
    byte[] query = NbdWire.BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(4 + name.length + 4 + 4 + query.length);
    b.putInt(name.length).put(name).putInt(1).putInt(query.length).put(query);
    option(NbdWire.OPT_SET_META_CONTEXT, b.array());
    int id = 0;
    while (true) {
      Reply r = reply(NbdWire.OPT_SET_META_CONTEXT);
      if (r.type == NbdWire.REP_META_CONTEXT) {
        if (r.data.length < 4) {
          throw new ProtocolException("short NBD_REP_META_CONTEXT");
        }
        ByteBuffer d = ByteBuffer.wrap(r.data);
        int cid = d.getInt();
        String n = new String(r.data, 4, r.data.length - 4, StandardCharsets.UTF_8);
        if (n.equals(NbdWire.BASE_ALLOCATION)) {
          id = cid;
        }
      } else if (r.type == NbdWire.REP_ACK) {
        return id;
      } else if (r.type == NbdWire.REP_ERR_TLS_REQD) {
        throw tlsRequired();
      } else if (r.isError()) {
        return 0;
      } else {
        throw new ProtocolException("unexpected reply " + r.type + " to SET_META_CONTEXT");
      }
    }
  }

  private Export go(boolean structured, int context) throws IOException {
    byte[] name = uri.export().getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(4 + name.length + 2 + 2);
    b.putInt(name.length).put(name).putShort((short) 1).putShort((short) NbdWire.INFO_BLOCK_SIZE);
    option(NbdWire.OPT_GO, b.array());
    long size = -1;
    int flags = 0;
    int min = 1;
    int preferred = 4096;
    int max = PAYLOAD_CEILING;
    while (true) {
      Reply r = reply(NbdWire.OPT_GO);
      if (r.type == NbdWire.REP_ACK) {
        break;
      }
      if (r.type == NbdWire.REP_ERR_UNSUP) {
        return exportName(name, structured, context);
      }
      if (r.isError()) {
        throw switch (r.type) {
          case NbdWire.REP_ERR_UNKNOWN -> new IOException("no export '" + uri.export()
              + "' on the server" + r.why());
          case NbdWire.REP_ERR_TLS_REQD -> tlsRequired();
          case NbdWire.REP_ERR_SHUTDOWN -> new IOException("the server is shutting down");
          default -> new IOException("the server refused the export" + r.why());
        };
      }
      if (r.type != NbdWire.REP_INFO) {
        throw new ProtocolException("unexpected reply " + r.type + " to NBD_OPT_GO");
      }
      if (r.data.length < 2) {
        throw new ProtocolException("short NBD_REP_INFO");
      }
      ByteBuffer d = ByteBuffer.wrap(r.data);
      int info = d.getShort() & 0xffff;
      if (info == NbdWire.INFO_EXPORT) {
        if (r.data.length != 12) {
          throw new ProtocolException("NBD_INFO_EXPORT of " + r.data.length + " bytes");
        }
        size = d.getLong();
        flags = d.getShort() & 0xffff;
      } else if (info == NbdWire.INFO_BLOCK_SIZE) {
        if (r.data.length != 14) {
          throw new ProtocolException("NBD_INFO_BLOCK_SIZE of " + r.data.length + " bytes");
        }
        min = d.getInt();
        preferred = d.getInt();
        max = d.getInt();
      }
    }
    if (size < 0) {
      throw new ProtocolException("NBD_OPT_GO ended without NBD_INFO_EXPORT");
    }
    return export(size, flags, min, preferred, max, structured, context);
  }

  /** The old way into transmission: no error is possible, the server just closes. */
  private Export exportName(byte[] name, boolean structured, int context) throws IOException {
    option(NbdWire.OPT_EXPORT_NAME, name);
    ByteBuffer d;
    try {
      d = read(10);
    } catch (EOFException e) {
      throw new IOException("no export '" + uri.export() + "' on the server");
    }
    long size = d.getLong();
    int flags = d.getShort() & 0xffff;
    if (!noZeroes) {
      read(NbdWire.EXPORT_NAME_PADDING);
    }
    return export(size, flags, 1, 4096, PAYLOAD_CEILING, structured, context);
  }

  private static Export export(long size, int flags, int min, int preferred, int max,
      boolean structured, int context) throws ProtocolException {
    if ((flags & NbdWire.TF_HAS_FLAGS) == 0) {
      throw new ProtocolException(String.format("transmission flags 0x%x lack HAS_FLAGS", flags));
    }
    if (size < 0) {
      throw new ProtocolException("negative export size " + size);
    }
    if (min < 1 || min > 65536 || Integer.bitCount(min) != 1 || preferred < min
        || Integer.bitCount(preferred) != 1 || Integer.compareUnsigned(max, min) < 0) {
      throw new ProtocolException("invalid block sizes: minimum " + min + ", preferred "
          + preferred + ", maximum " + Integer.toUnsignedString(max));
    }
    int payload = Integer.compareUnsigned(max, PAYLOAD_CEILING) > 0 ? PAYLOAD_CEILING : max;
    payload -= payload % Math.max(min, 512);
    if (payload == 0) {
      throw new ProtocolException("maximum payload " + max + " below one sector");
    }
    return new Export(size, flags, min, preferred, payload, structured, context);
  }

  // ------------------------------------------------------------------ messages

  private record Reply(int type, byte[] data) {
    boolean isError() {
      return (type & 0x80000000) != 0;
    }

    /** The server's message for an error, as ": text", or "". */
    String why() {
      String text = new String(data, StandardCharsets.UTF_8).strip();
      return text.isEmpty() ? "" : ": " + text;
    }
  }

  private void option(int option, byte[] data) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(16 + data.length);
    b.putLong(NbdWire.IHAVEOPT).putInt(option).putInt(data.length).put(data).flip();
    send(b);
  }

  private Reply reply(int option) throws IOException {
    ByteBuffer h = read(20);
    long magic = h.getLong();
    int echoed = h.getInt();
    int type = h.getInt();
    long length = h.getInt() & 0xffffffffL;
    if (magic != NbdWire.OPTION_REPLY_MAGIC) {
      throw new ProtocolException(String.format("option reply with magic 0x%x", magic));
    }
    if (echoed != option) {
      throw new ProtocolException("reply to option " + echoed + " while " + option
          + " was asked");
    }
    if (length > MAX_REPLY) {
      throw new ProtocolException("option reply of " + length + " bytes");
    }
    return new Reply(type, length == 0 ? new byte[0] : read((int) length).array());
  }

  private void send(ByteBuffer b) throws IOException {
    t.write(b);
  }

  private ByteBuffer read(int n) throws IOException {
    return t.readExactly(n, "the server closed the connection during the handshake");
  }
}
