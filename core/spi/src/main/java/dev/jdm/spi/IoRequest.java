package dev.jdm.spi;

import java.nio.ByteBuffer;

/**
 * One block I/O: the user-space {@code struct bio}. Mutable and reusable, so that frontends and the
 * core can pool requests and allocate nothing per I/O in steady state.
 *
 * <p>Positions are in 512-byte sectors; lengths in bytes, always a multiple of 512. Data lives in
 * {@link #data()} from {@link #dataOffset()} for {@link #bytes()} bytes; the buffer's own position and
 * limit belong to whoever is doing the I/O at that moment, so a target that sends one buffer to
 * several devices at once gives each of them a {@link ByteBuffer#duplicate()}.
 *
 * <p>Lifecycle: a submitter {@link #prepare}s the request and hands it to a device's {@code submit}.
 * When the core calls {@link Target#map}, {@link #sector()} is relative to the start of the target's
 * segment and the request never crosses the segment's end or the target's
 * {@link Target#maxIoSectors()} boundary. The target then either {@link #remap}s it, or completes it
 * itself with {@link #complete}. Exactly one {@link IoCompletion} call ends every request.
 */
public final class IoRequest {
  /** Bytes in a sector, the unit of every position. */
  public static final int SECTOR_SIZE = 512;
  /** log2 of {@link #SECTOR_SIZE}. */
  public static final int SECTOR_SHIFT = 9;

  /** Flag: the write is durable when it completes (forced unit access). */
  public static final int FUA = 1;
  /** Flag: flush the device before this write, as the block layer's {@code REQ_PREFLUSH}. */
  public static final int PREFLUSH = 1 << 1;
  /** Flag on WRITE_ZEROES: keep the range allocated (NBD's {@code NO_HOLE}). */
  public static final int NO_UNMAP = 1 << 2;
  /** Flag on WRITE_ZEROES: fail with EOPNOTSUPP rather than zero slowly (NBD's {@code FAST_ZERO}). */
  public static final int FAST_ZERO = 1 << 3;

  private IoOp op = IoOp.READ;
  private int flags;
  private long sector;
  private long length;
  private ByteBuffer data;
  private int dataOffset;
  private IoCompletion completion;
  private IoStatus status;
  private BlockDevice device;
  private RequestData targetData;

  /** An empty request; {@link #prepare} it before use. */
  public IoRequest() {}

  /**
   * Sets every field for a new I/O and clears the previous outcome.
   *
   * @param op what to do
   * @param flags {@link #FUA}, {@link #PREFLUSH}, {@link #NO_UNMAP}, {@link #FAST_ZERO}, or 0
   * @param sector first sector
   * @param bytes length, a multiple of {@link #SECTOR_SIZE}; 0 for FLUSH
   * @param data the data buffer for READ and WRITE, null otherwise
   * @param dataOffset where in {@code data} the request's bytes start
   * @param completion called once when the request ends
   * @return this request
   */
  public IoRequest prepare(
      IoOp op, int flags, long sector, int bytes, ByteBuffer data, int dataOffset,
      IoCompletion completion) {
    this.op = op;
    this.flags = flags;
    this.sector = sector;
    this.length = bytes;
    this.data = data;
    this.dataOffset = dataOffset;
    this.completion = completion;
    this.status = null;
    this.device = null;
    this.targetData = null;
    return this;
  }

  /**
   * Sets every field for a request without data (FLUSH, DISCARD, WRITE_ZEROES), whose range may be
   * longer than an {@code int} of bytes, and clears the previous outcome.
   *
   * @param length length in bytes, a multiple of {@link #SECTOR_SIZE}; 0 for FLUSH
   */
  public IoRequest prepareRange(IoOp op, int flags, long sector, long length,
      IoCompletion completion) {
    prepare(op, flags, sector, 0, null, 0, completion);
    this.length = length;
    return this;
  }

  /** What this request asks for. */
  public IoOp op() {
    return op;
  }

  /** Its flags; test with {@link #hasFlag}. */
  public int flags() {
    return flags;
  }

  /** Whether {@code flag} is set. */
  public boolean hasFlag(int flag) {
    return (flags & flag) != 0;
  }

  /** First sector; inside {@link Target#map}, relative to the segment's start. */
  public long sector() {
    return sector;
  }

  /**
   * Length in bytes. Always fits for READ and WRITE; a DISCARD or WRITE_ZEROES range of 2 GiB or
   * more has no {@code int} length: read {@link #sectors()} for those.
   *
   * @throws ArithmeticException for a range of 2 GiB or more
   */
  public int bytes() {
    return Math.toIntExact(length);
  }

  /** Length in bytes, for every op. */
  public long length() {
    return length;
  }

  /** Length in sectors, for every op. */
  public long sectors() {
    return length >>> SECTOR_SHIFT;
  }

  /** The data buffer (READ and WRITE), else null. */
  public ByteBuffer data() {
    return data;
  }

  /** Where in {@link #data()} this request's bytes start. */
  public int dataOffset() {
    return dataOffset;
  }

  /** The device chosen by the last {@link #remap}, else null. */
  public BlockDevice device() {
    return device;
  }

  /** How the request ended, or null while it runs. */
  public IoStatus status() {
    return status;
  }

  /**
   * The target's per-request state bound by the core while the target handles this request (see
   * {@link RequestData}), else null.
   */
  @SuppressWarnings("unchecked")
  public <T extends RequestData> T targetData() {
    return (T) targetData;
  }

  /** Binds a target's per-request state; called by the core only. */
  public void bindTargetData(RequestData data) {
    this.targetData = data;
  }

  /**
   * Points the request at {@code sector} of {@code device}; the target then returns
   * {@link MapResult#REMAPPED} and the core submits it there. In {@link Target#endIo}, a target may
   * remap and submit the request again itself (then return {@link EndIoResult#INCOMPLETE}).
   */
  public void remap(BlockDevice device, long sector) {
    this.device = device;
    this.sector = sector;
    this.status = null;
  }

  /**
   * Points this request's data at another buffer of the same length, before it is remapped: a
   * target that transforms a WRITE (encrypts, compresses) fills a pooled bounce buffer and sends
   * that, never changing the submitter's buffer. The core does not look at the data afterwards.
   */
  public void redirectData(ByteBuffer data, int dataOffset) {
    this.data = data;
    this.dataOffset = dataOffset;
  }

  /**
   * Replaces the status a request ended with, from {@link Target#endIo} (e.g. a read that failed on
   * one leg and was served by another); null makes it running again (the core's use).
   */
  public void overrideStatus(IoStatus status) {
    this.status = status;
  }

  /**
   * Ends the request with {@code status} and calls its completion, once.
   *
   * @throws IllegalStateException when the request has already ended: a second completion is a bug
   *     in whoever completes it, and would end someone else's request once this one is reused
   */
  public void complete(IoStatus status) {
    IoCompletion c = completion;
    if (this.status != null || c == null) {
      throw new IllegalStateException("request completed twice: " + this
          + (c == null ? " (already recycled)" : " (" + c + ")"));
    }
    this.status = status;
    c.completed(this);
  }

  /** Fills the request's data range with zeros, e.g. for a READ served from nothing. */
  public void fillZeros() {
    ByteBuffer b = data;
    int end = dataOffset + bytes();
    int i = dataOffset;
    for (; i + 8 <= end; i += 8) {
      b.putLong(i, 0L);
    }
    for (; i < end; i++) {
      b.put(i, (byte) 0);
    }
  }

  @Override
  public String toString() {
    return op + " sector=" + sector + " bytes=" + length + " flags=" + flags;
  }
}
