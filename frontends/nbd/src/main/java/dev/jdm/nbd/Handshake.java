package dev.jdm.nbd;

import dev.jdm.kernel.DmException;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.nbd.protocol.NbdWire;
import dev.jdm.nbd.protocol.PlainTransport;
import dev.jdm.nbd.protocol.ProtocolException;
import dev.jdm.nbd.protocol.TlsTransport;
import dev.jdm.nbd.protocol.Transport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import javax.net.ssl.SSLContext;

/**
 * The fixed newstyle handshake of one connection (proto.md "Handshake"): the greeting, then the
 * option loop until the client enters transmission with NBD_OPT_GO or NBD_OPT_EXPORT_NAME, or
 * leaves. Blocking; reads exactly what each message holds, so nothing is read ahead of STARTTLS.
 */
final class Handshake {
  /** Largest option payload taken; a longer one could only be a name or query list past limits. */
  private static final int MAX_OPTION = 64 * 1024;
  private static final byte[] NONE = new byte[0];

  private final PlainTransport plain;
  private final Exports exports;
  private final NbdConfig.TlsMode tlsMode;
  private final SSLContext ssl;
  private final boolean verifyClient;
  private final BooleanSupplier closing;
  private Transport t;
  private boolean noZeroes;
  private boolean structured;
  /** The device base:allocation was selected for, or null. */
  private String metaDevice;

  Handshake(SocketChannel channel, Exports exports, NbdConfig.Tls tls, SSLContext ssl,
      BooleanSupplier closing) {
    this.plain = new PlainTransport(channel);
    this.exports = exports;
    this.tlsMode = tls.mode();
    this.verifyClient = tls.verifyClient();
    this.ssl = ssl;
    this.closing = closing;
    this.t = plain;
  }

  /** The transport in use now (TLS after STARTTLS), for closing it on failure. */
  Transport transport() {
    return t;
  }

  /**
   * Runs the handshake.
   *
   * @return the agreed session, or empty when the client aborted
   * @throws ProtocolException when the client broke the protocol; the caller closes
   */
  Optional<Session> run() throws IOException {
    ByteBuffer hello = ByteBuffer.allocate(18);
    hello.putLong(NbdWire.NBDMAGIC).putLong(NbdWire.IHAVEOPT)
        .putShort((short) (NbdWire.FLAG_FIXED_NEWSTYLE | NbdWire.FLAG_NO_ZEROES)).flip();
    send(hello);
    int clientFlags = read(4).getInt();
    if ((clientFlags & ~(NbdWire.CLIENT_FIXED_NEWSTYLE | NbdWire.CLIENT_NO_ZEROES)) != 0) {
      throw new ProtocolException(String.format("unknown client flags 0x%x", clientFlags));
    }
    noZeroes = (clientFlags & NbdWire.CLIENT_NO_ZEROES) != 0;
    while (true) {
      ByteBuffer head = read(16);
      long magic = head.getLong();
      if (magic != NbdWire.IHAVEOPT) {
        throw new ProtocolException(String.format("bad option magic 0x%x", magic));
      }
      int option = head.getInt();
      long length = head.getInt() & 0xffffffffL;
      if (length > MAX_OPTION) {
        throw new ProtocolException("option " + option + " carries " + length
            + " bytes, more than the " + MAX_OPTION + " accepted");
      }
      byte[] data = length == 0 ? NONE : read((int) length).array();
      Optional<Session> done = option(option, data);
      if (done != null) {
        return done;
      }
    }
  }

  /** Handles one option: a session to enter transmission, empty to end, null to go on. */
  private Optional<Session> option(int option, byte[] data) throws IOException {
    if (option == NbdWire.OPT_ABORT) {
      reply(option, NbdWire.REP_ACK, NONE);
      return Optional.empty();
    }
    if (closing.getAsBoolean()) {
      if (option == NbdWire.OPT_EXPORT_NAME) {
        throw new ProtocolException("server shutting down");
      }
      return error(option, NbdWire.REP_ERR_SHUTDOWN, "the server is shutting down");
    }
    if (tlsMode == NbdConfig.TlsMode.REQUIRE && !t.secure() && option != NbdWire.OPT_STARTTLS) {
      if (option == NbdWire.OPT_EXPORT_NAME) {
        throw new ProtocolException("NBD_OPT_EXPORT_NAME before STARTTLS; TLS is required");
      }
      return error(option, NbdWire.REP_ERR_TLS_REQD, "TLS is required: send NBD_OPT_STARTTLS");
    }
    return switch (option) {
      case NbdWire.OPT_EXPORT_NAME -> exportName(data);
      case NbdWire.OPT_LIST -> list(option, data);
      case NbdWire.OPT_STARTTLS -> startTls(option, data);
      case NbdWire.OPT_INFO, NbdWire.OPT_GO -> infoOrGo(option, data);
      case NbdWire.OPT_STRUCTURED_REPLY -> structuredReply(option, data);
      case NbdWire.OPT_LIST_META_CONTEXT, NbdWire.OPT_SET_META_CONTEXT -> metaContext(option, data);
      default -> error(option, NbdWire.REP_ERR_UNSUP, "option " + option + " is not supported");
    };
  }

  private Optional<Session> exportName(byte[] data) throws IOException {
    String name;
    try {
      name = utf8(ByteBuffer.wrap(data), data.length);
    } catch (CharacterCodingException e) {
      throw new ProtocolException("export name is not UTF-8");
    }
    MappedDevice d = exports.find(name).orElseThrow(
        () -> new ProtocolException("NBD_OPT_EXPORT_NAME: no export '" + name + "'"));
    open(d).orElseThrow(
        () -> new ProtocolException("NBD_OPT_EXPORT_NAME: export '" + name + "' was removed"));
    int flags = Exports.transmissionFlags(d, structured);
    ByteBuffer b = ByteBuffer.allocate(10 + (noZeroes ? 0 : NbdWire.EXPORT_NAME_PADDING));
    b.putLong(d.sizeInBytes()).putShort((short) flags).position(b.capacity()).flip();
    try {
      send(b);
    } catch (IOException | RuntimeException e) {
      d.release();
      throw e;
    }
    return Optional.of(session(d, flags, false));
  }

  /**
   * Opens the device for the client entering transmission: an open the device counts, so it is not
   * removed under the client; {@link Connection} releases it when the client goes.
   */
  private static Optional<MappedDevice> open(MappedDevice d) {
    try {
      d.open();
      return Optional.of(d);
    } catch (DmException removed) {
      return Optional.empty();
    }
  }

  private Session session(MappedDevice d, int flags, boolean blockSizesAgreed) {
    return new Session(t, d, structured, d.name().equals(metaDevice), flags, blockSizesAgreed);
  }

  private Optional<Session> list(int option, byte[] data) throws IOException {
    if (data.length != 0) {
      return error(option, NbdWire.REP_ERR_INVALID, "NBD_OPT_LIST carries no data");
    }
    for (MappedDevice d : exports.list()) {
      byte[] name = d.name().getBytes(StandardCharsets.UTF_8);
      byte[] text = Exports.description(d).getBytes(StandardCharsets.UTF_8);
      reply(option, NbdWire.REP_SERVER, ByteBuffer.allocate(4 + name.length + text.length)
          .putInt(name.length).put(name).put(text).array());
    }
    reply(option, NbdWire.REP_ACK, NONE);
    return null;
  }

  private Optional<Session> startTls(int option, byte[] data) throws IOException {
    if (data.length != 0) {
      return error(option, NbdWire.REP_ERR_INVALID, "NBD_OPT_STARTTLS carries no data");
    }
    if (tlsMode == NbdConfig.TlsMode.OFF) {
      return error(option, NbdWire.REP_ERR_POLICY, "TLS is not enabled on this server");
    }
    if (t.secure()) {
      return error(option, NbdWire.REP_ERR_INVALID, "TLS is already running");
    }
    reply(option, NbdWire.REP_ACK, NONE);
    try {
      t = TlsTransport.accept(plain, ssl, verifyClient);
    } catch (IOException e) {
      throw new ProtocolException("TLS handshake failed: " + e.getMessage());
    }
    // Nothing negotiated in clear text survives the upgrade.
    structured = false;
    metaDevice = null;
    return null;
  }

  private Optional<Session> structuredReply(int option, byte[] data) throws IOException {
    if (data.length != 0) {
      return error(option, NbdWire.REP_ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY carries no data");
    }
    if (structured) {
      return error(option, NbdWire.REP_ERR_INVALID, "structured replies are already on");
    }
    structured = true;
    reply(option, NbdWire.REP_ACK, NONE);
    return null;
  }

  private Optional<Session> infoOrGo(int option, byte[] data) throws IOException {
    ByteBuffer d = ByteBuffer.wrap(data);
    String name;
    List<Integer> wanted = new ArrayList<>();
    try {
      if (d.remaining() < 6) {
        throw new CharacterCodingException();
      }
      int nameLength = d.getInt();
      if (nameLength < 0 || nameLength > d.remaining() - 2) {
        throw new CharacterCodingException();
      }
      name = utf8(d, nameLength);
      int n = d.getShort() & 0xffff;
      if (d.remaining() != 2 * n) {
        throw new CharacterCodingException();
      }
      for (int i = 0; i < n; i++) {
        wanted.add(d.getShort() & 0xffff);
      }
    } catch (CharacterCodingException e) {
      return error(option, NbdWire.REP_ERR_INVALID, "malformed " + optionName(option) + " data");
    }
    Optional<MappedDevice> found = exports.find(name);
    if (found.isEmpty()) {
      return error(option, NbdWire.REP_ERR_UNKNOWN, unknownExport(name));
    }
    MappedDevice dev = found.get();
    int flags = Exports.transmissionFlags(dev, structured);
    info(option, ByteBuffer.allocate(12).putShort((short) NbdWire.INFO_EXPORT)
        .putLong(dev.sizeInBytes()).putShort((short) flags));
    if (wanted.contains(NbdWire.INFO_NAME) || name.isEmpty()) {
      byte[] n = dev.name().getBytes(StandardCharsets.UTF_8);
      info(option, ByteBuffer.allocate(2 + n.length).putShort((short) NbdWire.INFO_NAME).put(n));
    }
    if (wanted.contains(NbdWire.INFO_DESCRIPTION)) {
      byte[] n = Exports.description(dev).getBytes(StandardCharsets.UTF_8);
      info(option, ByteBuffer.allocate(2 + n.length).putShort((short) NbdWire.INFO_DESCRIPTION)
          .put(n));
    }
    info(option, ByteBuffer.allocate(14).putShort((short) NbdWire.INFO_BLOCK_SIZE)
        .putInt(Exports.minimumBlock(dev)).putInt(exports.preferredBlock(dev))
        .putInt(exports.maxPayload()));
    if (option != NbdWire.OPT_GO) {
      reply(option, NbdWire.REP_ACK, NONE);
      return null;
    }
    if (open(dev).isEmpty()) {
      return error(option, NbdWire.REP_ERR_UNKNOWN, unknownExport(name));
    }
    try {
      reply(option, NbdWire.REP_ACK, NONE);
    } catch (IOException | RuntimeException e) {
      dev.release();
      throw e;
    }
    return Optional.of(session(dev, flags, wanted.contains(NbdWire.INFO_BLOCK_SIZE)));
  }

  private void info(int option, ByteBuffer item) throws IOException {
    reply(option, NbdWire.REP_INFO, item.array());
  }

  private String unknownExport(String name) {
    if (!name.isEmpty()) {
      return "no export called '" + name + "'";
    }
    return "no default export: name one of the " + exports.list().size() + " devices";
  }

  private Optional<Session> metaContext(int option, byte[] data) throws IOException {
    boolean set = option == NbdWire.OPT_SET_META_CONTEXT;
    if (set) {
      metaDevice = null;
    }
    if (!structured) {
      return error(option, NbdWire.REP_ERR_INVALID, "negotiate structured replies first");
    }
    ByteBuffer d = ByteBuffer.wrap(data);
    String name;
    List<String> queries = new ArrayList<>();
    try {
      name = string(d);
      if (d.remaining() < 4) {
        throw new CharacterCodingException();
      }
      long n = d.getInt() & 0xffffffffL;
      for (long i = 0; i < n; i++) {
        queries.add(string(d));
      }
      if (d.hasRemaining()) {
        throw new CharacterCodingException();
      }
    } catch (CharacterCodingException e) {
      return error(option, NbdWire.REP_ERR_INVALID, "malformed " + optionName(option) + " data");
    }
    Optional<MappedDevice> dev = exports.find(name);
    if (dev.isEmpty()) {
      return error(option, NbdWire.REP_ERR_UNKNOWN, unknownExport(name));
    }
    boolean match = set
        ? queries.contains(NbdWire.BASE_ALLOCATION)
        : queries.isEmpty() || queries.contains(NbdWire.BASE_ALLOCATION)
            || queries.contains(NbdWire.BASE_NAMESPACE);
    if (match) {
      byte[] ctx = NbdWire.BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
      reply(option, NbdWire.REP_META_CONTEXT, ByteBuffer.allocate(4 + ctx.length)
          .putInt(set ? NbdWire.BASE_ALLOCATION_ID : 0).put(ctx).array());
      if (set) {
        metaDevice = dev.get().name();
      }
    }
    reply(option, NbdWire.REP_ACK, NONE);
    return null;
  }

  /** A 32-bit length then that many bytes of UTF-8, within the protocol's string limit. */
  private static String string(ByteBuffer d) throws CharacterCodingException {
    if (d.remaining() < 4) {
      throw new CharacterCodingException();
    }
    int n = d.getInt();
    if (n < 0 || n > d.remaining() || n > NbdWire.MAX_STRING) {
      throw new CharacterCodingException();
    }
    return utf8(d, n);
  }

  private static String utf8(ByteBuffer d, int n) throws CharacterCodingException {
    if (n > NbdWire.MAX_STRING) {
      throw new CharacterCodingException();
    }
    ByteBuffer slice = d.slice(d.position(), n);
    d.position(d.position() + n);
    String s = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)
        .decode(slice).toString();
    if (s.indexOf('\0') >= 0) {
      throw new CharacterCodingException();
    }
    return s;
  }

  private static String optionName(int option) {
    return switch (option) {
      case NbdWire.OPT_INFO -> "NBD_OPT_INFO";
      case NbdWire.OPT_GO -> "NBD_OPT_GO";
      case NbdWire.OPT_LIST_META_CONTEXT -> "NBD_OPT_LIST_META_CONTEXT";
      case NbdWire.OPT_SET_META_CONTEXT -> "NBD_OPT_SET_META_CONTEXT";
      default -> "option " + option;
    };
  }

  private Optional<Session> error(int option, int type, String message) throws IOException {
    reply(option, type, message.getBytes(StandardCharsets.UTF_8));
    return null;
  }

  private void reply(int option, int type, byte[] data) throws IOException {
    ByteBuffer head = ByteBuffer.allocate(20);
    head.putLong(NbdWire.OPTION_REPLY_MAGIC).putInt(option).putInt(type).putInt(data.length).flip();
    t.write(new ByteBuffer[] {head, ByteBuffer.wrap(data)}, 0, 2);
  }

  private void send(ByteBuffer b) throws IOException {
    t.write(b);
  }

  private ByteBuffer read(int n) throws IOException {
    return t.readExactly(n, "client closed the connection during the handshake");
  }
}
