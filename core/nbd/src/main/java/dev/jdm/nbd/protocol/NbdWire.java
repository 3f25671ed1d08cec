package dev.jdm.nbd.protocol;

import dev.jdm.spi.IoStatus;

/**
 * The NBD wire constants jdm speaks, as server (the NBD frontend) and as client (remote backing
 * devices), each as NetworkBlockDevice/nbd {@code doc/proto.md} defines it. Every number on the
 * wire comes from here.
 */
public final class NbdWire {
  private NbdWire() {}

  // ------------------------------------------------------------ handshake (proto.md "Newstyle")

  /** The IANA port of NBD, used when a URI names none. */
  public static final int DEFAULT_PORT = 10809;
  /** "NBDMAGIC", the first thing the server sends. */
  public static final long NBDMAGIC = 0x4e42444d41474943L;
  /** "IHAVEOPT", sent after NBDMAGIC and in front of every client option. */
  public static final long IHAVEOPT = 0x49484156454f5054L;
  /** Magic in front of every option reply. */
  public static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;

  /** Handshake flag: the server speaks fixed newstyle. */
  public static final int FLAG_FIXED_NEWSTYLE = 1;
  /** Handshake flag: the server may skip the 124 zero bytes after NBD_OPT_EXPORT_NAME. */
  public static final int FLAG_NO_ZEROES = 1 << 1;
  /** Client flag: the client speaks fixed newstyle. */
  public static final int CLIENT_FIXED_NEWSTYLE = 1;
  /** Client flag: the client does not want the 124 zero bytes. */
  public static final int CLIENT_NO_ZEROES = 1 << 1;
  /** Zero bytes after the export size and flags of NBD_OPT_EXPORT_NAME's reply. */
  public static final int EXPORT_NAME_PADDING = 124;

  /** Option: choose an export and enter transmission; no error can be returned. */
  public static final int OPT_EXPORT_NAME = 1;
  /** Option: the client gives up; answer ACK and close. */
  public static final int OPT_ABORT = 2;
  /** Option: list the exports. */
  public static final int OPT_LIST = 3;
  /** Option: upgrade the connection to TLS. */
  public static final int OPT_STARTTLS = 5;
  /** Option: describe an export without entering transmission. */
  public static final int OPT_INFO = 6;
  /** Option: describe an export and enter transmission. */
  public static final int OPT_GO = 7;
  /** Option: use structured replies in transmission. */
  public static final int OPT_STRUCTURED_REPLY = 8;
  /** Option: list the metadata contexts matching the queries. */
  public static final int OPT_LIST_META_CONTEXT = 9;
  /** Option: select metadata contexts for NBD_CMD_BLOCK_STATUS. */
  public static final int OPT_SET_META_CONTEXT = 10;

  /** Option reply: done, success. */
  public static final int REP_ACK = 1;
  /** Option reply: one export of NBD_OPT_LIST. */
  public static final int REP_SERVER = 2;
  /** Option reply: one item of information for NBD_OPT_INFO / NBD_OPT_GO. */
  public static final int REP_INFO = 3;
  /** Option reply: one metadata context. */
  public static final int REP_META_CONTEXT = 4;
  /** Option error: unknown option. */
  public static final int REP_ERR_UNSUP = 0x80000001;
  /** Option error: known but refused by policy (STARTTLS with TLS off). */
  public static final int REP_ERR_POLICY = 0x80000002;
  /** Option error: syntactically or semantically invalid. */
  public static final int REP_ERR_INVALID = 0x80000003;
  /** Option error: refused until TLS is up. */
  public static final int REP_ERR_TLS_REQD = 0x80000005;
  /** Option error: no such export. */
  public static final int REP_ERR_UNKNOWN = 0x80000006;
  /** Option error: the server is shutting down. */
  public static final int REP_ERR_SHUTDOWN = 0x80000007;
  /** Option error: request or reply too large. */
  public static final int REP_ERR_TOO_BIG = 0x80000009;

  /** Information: size and transmission flags (mandatory before ACK). */
  public static final int INFO_EXPORT = 0;
  /** Information: the canonical export name. */
  public static final int INFO_NAME = 1;
  /** Information: a human-readable description. */
  public static final int INFO_DESCRIPTION = 2;
  /** Information: minimum block, preferred block and maximum payload sizes. */
  public static final int INFO_BLOCK_SIZE = 3;

  /** The one metadata context this server offers. */
  public static final String BASE_ALLOCATION = "base:allocation";
  /** The namespace query that lists every base: context. */
  public static final String BASE_NAMESPACE = "base:";
  /** The id this server gives base:allocation (any nonzero value would do). */
  public static final int BASE_ALLOCATION_ID = 1;
  /** Longest string (name, query, message) the protocol allows. */
  public static final int MAX_STRING = 4096;

  // --------------------------------------------------------------- transmission flags

  /** Always set. */
  public static final int TF_HAS_FLAGS = 1;
  /** The export refuses writes. */
  public static final int TF_READ_ONLY = 1 << 1;
  /** NBD_CMD_FLUSH is understood. */
  public static final int TF_SEND_FLUSH = 1 << 2;
  /** NBD_CMD_FLAG_FUA is understood. */
  public static final int TF_SEND_FUA = 1 << 3;
  /** NBD_CMD_TRIM is understood. */
  public static final int TF_SEND_TRIM = 1 << 5;
  /** NBD_CMD_WRITE_ZEROES and NBD_CMD_FLAG_NO_HOLE are understood. */
  public static final int TF_SEND_WRITE_ZEROES = 1 << 6;
  /** NBD_CMD_FLAG_DF is understood (structured replies only). */
  public static final int TF_SEND_DF = 1 << 7;
  /** FLUSH and FUA take effect across all connections to the export. */
  public static final int TF_CAN_MULTI_CONN = 1 << 8;
  /** NBD_CMD_CACHE is understood. */
  public static final int TF_SEND_CACHE = 1 << 10;
  /** NBD_CMD_FLAG_FAST_ZERO is understood. */
  public static final int TF_SEND_FAST_ZERO = 1 << 11;

  // ------------------------------------------------------------------ requests and replies

  /** Magic of every request. */
  public static final int REQUEST_MAGIC = 0x25609513;
  /** Magic of a simple reply. */
  public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
  /** Magic of a structured reply chunk. */
  public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;
  /** Bytes of a request header: magic, flags, type, cookie, offset, length. */
  public static final int REQUEST_HEADER = 28;
  /** Bytes of a simple reply: magic, error, cookie. */
  public static final int SIMPLE_REPLY_HEADER = 16;
  /** Bytes of a structured chunk header: magic, flags, type, cookie, length. */
  public static final int CHUNK_HEADER = 20;

  /** Command: read. */
  public static final int CMD_READ = 0;
  /** Command: write the payload that follows. */
  public static final int CMD_WRITE = 1;
  /** Command: soft disconnect; no reply. */
  public static final int CMD_DISC = 2;
  /** Command: make completed writes durable. */
  public static final int CMD_FLUSH = 3;
  /** Command: discard a range (a hint). */
  public static final int CMD_TRIM = 4;
  /** Command: prefetch a range (a hint). */
  public static final int CMD_CACHE = 5;
  /** Command: make a range read as zeros. */
  public static final int CMD_WRITE_ZEROES = 6;
  /** Command: report metadata (allocation) of a range. */
  public static final int CMD_BLOCK_STATUS = 7;

  /** Command flag: forced unit access. */
  public static final int CMD_FLAG_FUA = 1;
  /** Command flag on WRITE_ZEROES: do not punch a hole. */
  public static final int CMD_FLAG_NO_HOLE = 1 << 1;
  /** Command flag on READ: at most one content chunk. */
  public static final int CMD_FLAG_DF = 1 << 2;
  /** Command flag on BLOCK_STATUS: one extent only. */
  public static final int CMD_FLAG_REQ_ONE = 1 << 3;
  /** Command flag on WRITE_ZEROES: fail with ENOTSUP rather than zero slowly. */
  public static final int CMD_FLAG_FAST_ZERO = 1 << 4;

  /** Structured reply flag: the last chunk of its reply. */
  public static final int REPLY_FLAG_DONE = 1;
  /** Chunk type: no payload, ends a reply. */
  public static final int REPLY_TYPE_NONE = 0;
  /** Chunk type: an offset then data. */
  public static final int REPLY_TYPE_OFFSET_DATA = 1;
  /** Chunk type: an offset then a length that reads as zeros. */
  public static final int REPLY_TYPE_OFFSET_HOLE = 2;
  /** Chunk type: a context id then (length, flags) descriptors. */
  public static final int REPLY_TYPE_BLOCK_STATUS = 5;
  /** Chunk type: an error code and a message. */
  public static final int REPLY_TYPE_ERROR = 0x8001;
  /** Chunk type: an error code, a message, and the offset the error is about. */
  public static final int REPLY_TYPE_ERROR_OFFSET = 0x8002;
  /** Chunk types with this bit set are errors, even those a peer does not know. */
  public static final int REPLY_TYPE_ERROR_BIT = 0x8000;

  /** base:allocation flag: the extent is not allocated. */
  public static final int STATE_HOLE = 1;
  /** base:allocation flag: the extent reads as zeros. */
  public static final int STATE_ZERO = 1 << 1;

  /** Error: operation not permitted (write to a read-only export). */
  public static final int EPERM = 1;
  /** Error: input/output error. */
  public static final int EIO = 5;
  /** Error: out of memory. */
  public static final int ENOMEM = 12;
  /** Error: invalid argument (unaligned, out of range, unknown command or flag). */
  public static final int EINVAL = 22;
  /** Error: no space (write past the end). */
  public static final int ENOSPC = 28;
  /** Error: value too large. */
  public static final int EOVERFLOW = 75;
  /** Error: not supported (a FAST_ZERO that would be slow). */
  public static final int ENOTSUP = 95;
  /** Error: the export is going away. */
  public static final int ESHUTDOWN = 108;

  /** The NBD error for a request's status. */
  public static int error(IoStatus status) {
    return switch (status) {
      case OK -> 0;
      case EPERM -> EPERM;
      case EIO -> EIO;
      case ENOMEM -> ENOMEM;
      case EINVAL -> EINVAL;
      case ENOSPC -> ENOSPC;
      case EOVERFLOW -> EOVERFLOW;
      case EOPNOTSUPP -> ENOTSUP;
      case ESHUTDOWN -> ESHUTDOWN;
    };
  }

  /** The request status for an NBD error; unknown errors are EIO, as proto.md asks. */
  public static IoStatus status(int error) {
    return switch (error) {
      case 0 -> IoStatus.OK;
      case EPERM -> IoStatus.EPERM;
      case ENOMEM -> IoStatus.ENOMEM;
      case EINVAL -> IoStatus.EINVAL;
      case ENOSPC -> IoStatus.ENOSPC;
      case EOVERFLOW -> IoStatus.EOVERFLOW;
      case ENOTSUP -> IoStatus.EOPNOTSUPP;
      case ESHUTDOWN -> IoStatus.ESHUTDOWN;
      default -> IoStatus.EIO;
    };
  }

  /** A command's name for messages. */
  public static String commandName(int type) {
    return switch (type) {
      case CMD_READ -> "READ";
      case CMD_WRITE -> "WRITE";
      case CMD_DISC -> "DISC";
      case CMD_FLUSH -> "FLUSH";
      case CMD_TRIM -> "TRIM";
      case CMD_CACHE -> "CACHE";
      case CMD_WRITE_ZEROES -> "WRITE_ZEROES";
      case CMD_BLOCK_STATUS -> "BLOCK_STATUS";
      default -> "command " + type;
    };
  }
}
