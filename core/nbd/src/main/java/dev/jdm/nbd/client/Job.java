package dev.jdm.nbd.client;

import dev.jdm.nbd.protocol.NbdWire;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One request in flight on one connection: a pooled slot, reused for every request the connection
 * carries, so steady-state I/O allocates nothing. A request longer than the server's largest
 * payload goes out as several commands ("parts") of this one job; a write with PREFLUSH, or with
 * FUA on a server that has FLUSH but no FUA, runs in phases (flush, data, flush), one after
 * another.
 *
 * <p>Its cookie on the wire is {@code seq << 32 | index << 24 | part}. {@link #seq} changes at
 * every phase and at release, so a reply that names a job no longer waiting for it is caught. The
 * sender fills the fields and writes {@code seq} last; the reader reads {@code seq} first.
 *
 * <p>A phase ends when both its sender has left the transport's write and every reply is in
 * ({@link #holds} drops to zero): a fast server can answer before the write call has returned,
 * and until it returns the request's buffer is still the transport's.
 */
final class Job {
  static final int PRE_FLUSH = 0;
  static final int DATA = 1;
  static final int POST_FLUSH = 2;
  /** The largest TRIM / WRITE_ZEROES / BLOCK_STATUS range sent as one command. */
  static final long MAX_RANGE = 1L << 30;

  final ClientConnection connection;
  final int index;
  /** The request header, rewritten for every part. */
  final ByteBuffer header = ByteBuffer.allocateDirect(NbdWire.REQUEST_HEADER);
  /** Header and payload for the gathering write. */
  final ByteBuffer[] out = new ByteBuffer[2];

  /** Changes at every phase and release; see the class comment. */
  volatile int seq;
  /** The connection epoch the job was taken in; a job of an older epoch is not sent. */
  int epoch;
  /** The request, or null for a block status call. */
  IoRequest request;
  /** The block status call waiting for this job, or null. */
  BlockStatusCall call;
  /** The command of the current phase, its flags, and its range in bytes. */
  int cmd;
  int cmdFlags;
  long offset;
  long length;
  /** The largest range of one part. */
  long partSize;
  int parts;
  /** Parts of the current phase whose reply has not ended yet (reader thread). */
  int remaining;
  /** The sender and the replies of the current phase: the phase ends when both let go. */
  final AtomicInteger holds = new AtomicInteger();
  /** The first error of the job (reader thread). */
  IoStatus status;
  int phase;
  /** Whether the job waits in the dispatcher's queue for its next phase (device lock). */
  boolean queued;
  /** The sequence number its next phase has (device lock). */
  int continueSeq;
  private int savedPosition;
  private int savedLimit;
  private int mainCmd;
  private int mainFlags;
  private boolean flushAfter;

  Job(ClientConnection connection, int index) {
    this.connection = connection;
    this.index = index;
  }

  /** Sets the job up for {@code r}; the first phase starts at once. */
  void start(IoRequest r, ClientHandshake.Export e) {
    request = r;
    call = null;
    status = IoStatus.OK;
    offset = r.sector() << IoRequest.SECTOR_SHIFT;
    length = r.op() == IoOp.FLUSH ? 0 : r.sectors() << IoRequest.SECTOR_SHIFT;
    boolean fua = r.hasFlag(IoRequest.FUA);
    boolean serverFua = e.has(NbdWire.TF_SEND_FUA);
    boolean serverFlush = e.has(NbdWire.TF_SEND_FLUSH);
    int flags = fua && serverFua ? NbdWire.CMD_FLAG_FUA : 0;
    partSize = MAX_RANGE;
    mainCmd = switch (r.op()) {
      case READ -> {
        partSize = e.maxPayload();
        flags = 0;
        yield NbdWire.CMD_READ;
      }
      case WRITE -> {
        partSize = e.maxPayload();
        yield NbdWire.CMD_WRITE;
      }
      case FLUSH -> {
        flags = 0;
        yield NbdWire.CMD_FLUSH;
      }
      case DISCARD -> NbdWire.CMD_TRIM;
      case WRITE_ZEROES -> {
        if (r.hasFlag(IoRequest.NO_UNMAP)) {
          flags |= NbdWire.CMD_FLAG_NO_HOLE;
        }
        if (r.hasFlag(IoRequest.FAST_ZERO)) {
          flags |= NbdWire.CMD_FLAG_FAST_ZERO;
        }
        yield NbdWire.CMD_WRITE_ZEROES;
      }
    };
    mainFlags = flags;
    flushAfter = fua && !serverFua && serverFlush && r.op().changesData();
    boolean flushBefore = r.hasFlag(IoRequest.PREFLUSH) && serverFlush && r.op() != IoOp.FLUSH;
    phase(flushBefore ? PRE_FLUSH : DATA);
  }

  /** Sets the job up for one BLOCK_STATUS command over {@code length} bytes at {@code offset}. */
  void startStatus(BlockStatusCall c, long offset, long length) {
    request = null;
    call = c;
    status = IoStatus.OK;
    this.offset = offset;
    this.length = length;
    partSize = MAX_RANGE;
    mainCmd = NbdWire.CMD_BLOCK_STATUS;
    mainFlags = 0;
    flushAfter = false;
    phase(DATA);
  }

  /** Moves to phase {@code p}; false when the job has no such phase and is done. */
  boolean next() {
    if (phase == PRE_FLUSH) {
      phase(DATA);
      return true;
    }
    if (phase == DATA && flushAfter) {
      phase(POST_FLUSH);
      return true;
    }
    return false;
  }

  private void phase(int p) {
    phase = p;
    if (p == DATA) {
      cmd = mainCmd;
      cmdFlags = mainFlags;
      parts = length == 0 ? 1 : (int) ((length + partSize - 1) / partSize);
    } else {
      cmd = NbdWire.CMD_FLUSH;
      cmdFlags = 0;
      parts = 1;
    }
    remaining = parts;
    holds.set(2);
    seq = seq + 1;
  }

  /** Forgets the request; replies that still name the job no longer match it. */
  void clear() {
    request = null;
    call = null;
    out[1] = null;
    seq = seq + 1;
  }

  long cookie(int part) {
    return (long) seq << 32 | (long) index << 24 | part;
  }

  /** Byte offset of {@code part} on the export. */
  long partOffset(int part) {
    return cmd == NbdWire.CMD_FLUSH ? 0 : offset + part * partSize;
  }

  /** Bytes of {@code part}. */
  long partLength(int part) {
    return cmd == NbdWire.CMD_FLUSH ? 0 : Math.min(partSize, length - part * partSize);
  }

  /**
   * The request's buffer narrowed to the {@code length} bytes for the export's offset {@code off},
   * for the transport; {@link #restore} gives the buffer back its position and limit. Only the one
   * thread moving this job's data (the sender of a WRITE, the reader of a READ) calls these.
   */
  ByteBuffer window(long off, long length) {
    ByteBuffer d = request.data();
    int at = request.dataOffset() + (int) (off - offset);
    savedPosition = d.position();
    savedLimit = d.limit();
    return d.limit(d.capacity()).position(at).limit(at + (int) length);
  }

  /** Undoes {@link #window}. */
  void restore() {
    request.data().limit(savedLimit).position(savedPosition);
  }

  /** Keeps the first error. */
  void fail(IoStatus s) {
    if (status == IoStatus.OK) {
      status = s;
    }
  }
}
