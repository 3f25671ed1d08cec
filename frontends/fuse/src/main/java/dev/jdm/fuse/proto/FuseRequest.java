package dev.jdm.fuse.proto;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * One worker's request buffer and the request in it: the header, the arguments decoded by opcode
 * ({@link FuseArgs}, checked for length once), and the reply builders. Reused for every request the worker reads, so nothing is allocated per
 * request.
 *
 * <p>Layout of the buffer: the request is read at {@code 4096 - 80}, so that a WRITE's data (after
 * the 40-byte in-header and the 40-byte write_in) starts page-aligned at 4096. The reply body
 * starts at {@link #outBody()}, page-aligned, with the out-header just before it, so that a READ
 * reply is one write of header and data; a READ that starts inside a sector reads the whole sector
 * to just before {@link #outBody()} and sends from the asked byte on.
 */
public final class FuseRequest {
  private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
  private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;
  private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;
  private static final int PAGE = 4096;
  private static final int IN_START = PAGE - FuseWire.IN_HEADER - FuseWire.WRITE_IN_SIZE;
  private static final int BODY = IN_START + FuseWire.IN_HEADER;

  private final int fd;
  private final MemorySegment buffer;
  private final long address;
  private final ByteBuffer bytes;
  private final MemorySegment errno;
  private final int inCapacity;
  private final int outBody;
  private final int outCapacity;

  private int length;
  private int opcode;
  private long unique;
  private long nodeId;
  private int uid;
  private int gid;
  private int pid;
  private boolean answered;
  private Object context;
  private final FuseArgs args;

  /**
   * A buffer for requests of up to {@code maxWrite} data bytes on {@code fd}, allocated in
   * {@code arena}.
   */
  FuseRequest(int fd, int maxWrite, Arena arena) {
    this.fd = fd;
    this.inCapacity = maxWrite + 2 * PAGE;
    this.outBody = roundUp(IN_START + inCapacity, PAGE) + PAGE;
    this.outCapacity = maxWrite + PAGE;
    this.buffer = arena.allocate(outBody + outCapacity, PAGE);
    this.address = buffer.address();
    this.bytes = buffer.asByteBuffer();
    this.errno = LinuxCalls.errnoSlot(arena);
    this.args = new FuseArgs(buffer, BODY);
  }

  private static int roundUp(int n, int to) {
    return (n + to - 1) / to * to;
  }

  /**
   * Reads the next request from the device.
   *
   * @return 0 when a request is ready, else the errno of the read (ENODEV once the file system is
   *     gone)
   */
  int receive() {
    long n = LinuxCalls.read(errno, fd, address + IN_START, inCapacity);
    if (n < 0) {
      return (int) -n;
    }
    if (n < FuseWire.IN_HEADER || buffer.get(INT, IN_START + FuseWire.IN_LEN) != n) {
      return Errno.EPROTO;
    }
    length = (int) n;
    opcode = buffer.get(INT, IN_START + FuseWire.IN_OPCODE);
    unique = buffer.get(LONG, IN_START + FuseWire.IN_UNIQUE);
    nodeId = buffer.get(LONG, IN_START + FuseWire.IN_NODEID);
    uid = buffer.get(INT, IN_START + FuseWire.IN_UID);
    gid = buffer.get(INT, IN_START + FuseWire.IN_GID);
    pid = buffer.get(INT, IN_START + FuseWire.IN_PID);
    answered = false;
    return 0;
  }

  /** The request's opcode ({@link FuseWire}). */
  public int opcode() {
    return opcode;
  }

  /** The id the kernel matches the reply by. */
  public long unique() {
    return unique;
  }

  /** The node the request is about. */
  public long nodeId() {
    return nodeId;
  }

  /** The calling process's user id. */
  public int uid() {
    return uid;
  }

  /** The calling process's group id. */
  public int gid() {
    return gid;
  }

  /** The calling process's id. */
  public int pid() {
    return pid;
  }

  /** Bytes of arguments after the in-header. */
  public int argumentLength() {
    return length - FuseWire.IN_HEADER;
  }

  /** The request's arguments, decoded by opcode; read only after {@link #fit()} said yes. */
  public FuseArgs args() {
    return args;
  }

  /**
   * Checks the arguments against what the opcode needs (its input struct, a WRITE's data, a
   * LOOKUP's NUL): null when they fit, else what is wrong. Called once, before any handler.
   */
  String fit() {
    return args.fit(opcode, argumentLength());
  }

  /** The whole buffer as a ByteBuffer, for I/O straight into and out of it. */
  public ByteBuffer bytes() {
    return bytes;
  }

  /** Where a WRITE's data starts in {@link #bytes()}. */
  public int writeData() {
    return BODY + FuseWire.WRITE_IN_SIZE;
  }

  /** Where the reply body starts in {@link #bytes()}. */
  public int outBody() {
    return outBody;
  }

  /** How many reply bytes fit from {@link #outBody()} on. */
  public int outCapacity() {
    return outCapacity;
  }

  /** Whether a reply was sent (or the request needs none). */
  public boolean answered() {
    return answered;
  }

  /** Marks a request that takes no reply (FORGET, an interrupt being ignored). */
  public void noReply() {
    answered = true;
  }

  /** The file system's own per-worker state, kept with the worker's buffer; null at first. */
  public Object context() {
    return context;
  }

  /** Sets the file system's per-worker state. */
  public void context(Object context) {
    this.context = context;
  }

  // ------------------------------------------------------------ reply builders

  /** Zeroes {@code length} reply bytes, before a struct is filled in. */
  public void clearOut(int length) {
    buffer.asSlice(outBody, length).fill((byte) 0);
  }

  /** Puts a u16 at {@code offset} in the reply body. */
  public void outShort(int offset, int value) {
    buffer.set(SHORT, outBody + offset, (short) value);
  }

  /** Puts a u32 at {@code offset} in the reply body. */
  public void outInt(int offset, int value) {
    buffer.set(INT, outBody + offset, value);
  }

  /** Puts a u64 at {@code offset} in the reply body. */
  public void outLong(int offset, long value) {
    buffer.set(LONG, outBody + offset, value);
  }

  /** Puts bytes at {@code offset} in the reply body. */
  public void outBytes(int offset, byte[] value) {
    MemorySegment.copy(value, 0, buffer, ValueLayout.JAVA_BYTE, outBody + offset, value.length);
  }

  /** Sends the reply: the out-header and {@code bodyLength} bytes from {@link #outBody()}. */
  public void reply(int bodyLength) {
    send(0, bodyLength);
  }

  /** Sends an error reply; {@code errno} is positive, e.g. {@link Errno#EIO}. */
  public void replyError(int errno) {
    send(-errno, 0);
  }

  /** Sends a reply with an empty body (success). */
  public void replyOk() {
    send(0, 0);
  }

  /** @return whether the kernel took the reply (false: the request was interrupted meanwhile) */
  private boolean send(int error, int bodyLength) {
    int header = outBody - FuseWire.OUT_HEADER;
    int total = FuseWire.OUT_HEADER + bodyLength;
    buffer.set(INT, header + FuseWire.OUT_LEN, total);
    buffer.set(INT, header + FuseWire.OUT_ERROR, error);
    buffer.set(LONG, header + FuseWire.OUT_UNIQUE, unique);
    answered = true;
    long n = LinuxCalls.write(errno, fd, address + header, total);
    // ENOENT: the request was interrupted or aborted meanwhile; nobody waits for this reply.
    if (n < 0 && n != -Errno.ENOENT && n != -Errno.ENODEV) {
      throw new IllegalStateException("reply to " + FuseWire.opName(opcode) + " failed: "
          + LinuxCalls.describe((int) -n));
    }
    return n >= 0;
  }

  // ------------------------------------------------------------ typed replies

  private void putAttr(int at, Attributes a) {
    outLong(at, a.ino());
    outLong(at + 8, a.size());
    outLong(at + 16, a.blocks());
    outLong(at + 24, a.seconds());
    outLong(at + 32, a.seconds());
    outLong(at + 40, a.seconds());
    outInt(at + 48, a.nanos());
    outInt(at + 52, a.nanos());
    outInt(at + 56, a.nanos());
    outInt(at + 60, a.mode());
    outInt(at + 64, a.nlink());
    outInt(at + 68, a.uid());
    outInt(at + 72, a.gid());
    outInt(at + 80, a.blksize());
  }

  /** Answers LOOKUP: the node, its generation and attributes, cached for the given times. */
  public void replyEntry(Attributes a, long generation, long entryNanos, long attrNanos) {
    clearOut(FuseWire.ENTRY_OUT_SIZE);
    outLong(0, a.ino());
    outLong(8, generation);
    outLong(16, entryNanos / 1_000_000_000L);
    outLong(24, attrNanos / 1_000_000_000L);
    outInt(32, (int) (entryNanos % 1_000_000_000L));
    outInt(36, (int) (attrNanos % 1_000_000_000L));
    putAttr(40, a);
    reply(FuseWire.ENTRY_OUT_SIZE);
  }

  /** Answers GETATTR and SETATTR. */
  public void replyAttr(Attributes a, long attrNanos) {
    clearOut(FuseWire.ATTR_OUT_SIZE);
    outLong(0, attrNanos / 1_000_000_000L);
    outInt(8, (int) (attrNanos % 1_000_000_000L));
    putAttr(16, a);
    reply(FuseWire.ATTR_OUT_SIZE);
  }

  /**
   * Answers OPEN and OPENDIR with a handle and FOPEN_* flags.
   *
   * @return whether the kernel took it; if not, the opener was interrupted and the handle will
   *     never be used or released
   */
  public boolean replyOpen(long fh, int openFlags) {
    clearOut(FuseWire.OPEN_OUT_SIZE);
    outLong(0, fh);
    outInt(8, openFlags);
    return send(0, FuseWire.OPEN_OUT_SIZE);
  }

  /** Answers WRITE with the count of bytes written. */
  public void replyWritten(int count) {
    outLong(0, count & 0xffffffffL);
    reply(FuseWire.WRITE_OUT_SIZE);
  }

  /** Answers LSEEK with the offset found. */
  public void replyOffset(long offset) {
    outLong(0, offset);
    reply(FuseWire.LSEEK_OUT_SIZE);
  }

  /**
   * Answers STATFS.
   *
   * @param blocks total blocks of {@code blockSize} bytes
   * @param files total file count
   */
  public void replyStatfs(long blocks, long files, int blockSize, int nameLength) {
    clearOut(FuseWire.STATFS_OUT_SIZE);
    outLong(0, blocks);
    outLong(24, files);
    outInt(40, blockSize);
    outInt(44, nameLength);
    outInt(48, blockSize);
    reply(FuseWire.STATFS_OUT_SIZE);
  }

  /**
   * Adds one fuse_dirent to a READDIR reply at body offset {@code at}.
   *
   * @param next the offset the kernel passes back to continue after this entry
   * @return the offset after the entry, or -1 when it does not fit in {@code limit} bytes
   */
  public int putDirent(int at, int limit, long ino, long next, int type, byte[] name) {
    int size = (FuseWire.DIRENT_NAME + name.length + 7) & ~7;
    if (at + size > limit) {
      return -1;
    }
    outLong(at, ino);
    outLong(at + 8, next);
    outInt(at + 16, name.length);
    outInt(at + 20, type);
    outBytes(at + FuseWire.DIRENT_NAME, name);
    for (int i = at + FuseWire.DIRENT_NAME + name.length; i < at + size; i++) {
      buffer.set(ValueLayout.JAVA_BYTE, outBody + i, (byte) 0);
    }
    return at + size;
  }
}
