package dev.jdm.testkit;

import dev.jdm.spi.EndIoResult;
import dev.jdm.spi.IoCompletion;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.RequestData;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Drives one target's {@code map} and {@code endIo} the way the core does, without a daemon: for
 * unit tests of a target over {@link MemoryDevice}s in a {@link TestTargetContext}. A request is
 * cut at the target's {@link Target#maxIoSectors()} boundaries, each piece gets fresh per-request
 * data, REMAPPED pieces go to their device, and end_io runs on completion for types that declare
 * {@link TargetType.Feature#END_IO}. A piece completed twice fails the request with a message
 * naming the target.
 *
 * <pre>{@code
 * TestTargetContext ctx = new TestTargetContext();
 * ctx.add(new MemoryDevice("/dev/a", 2048));
 * TargetHarness h = TargetHarness.create(new DelayTarget.Type(), ctx, 2048, "/dev/a 0 100");
 * CompletableFuture<IoStatus> w = h.start(IoOp.WRITE, 0, new byte[4096]);
 * ctx.scheduler().advance(100_000_000L);
 * assertEquals(IoStatus.OK, w.get());
 * }</pre>
 */
public final class TargetHarness implements AutoCloseable {
  private final TargetType type;
  private final Target target;
  private final long length;
  private final boolean endIo;

  private TargetHarness(TargetType type, Target target, long length) {
    this.type = type;
    this.target = target;
    this.length = length;
    this.endIo = type.features().contains(TargetType.Feature.END_IO);
  }

  /**
   * Builds a target of {@code type} from a table line's arguments (split on spaces), usually in a
   * {@link TestTargetContext}; a test that needs services it leaves out passes its own context.
   */
  public static TargetHarness create(TargetType type, TargetContext ctx, long length,
      String args) throws TargetException {
    List<String> words = args.isBlank() ? List.of() : List.of(args.strip().split("\\s+"));
    return new TargetHarness(type, type.create(ctx, length, words), length);
  }

  /** The target under test. */
  public Target target() {
    return target;
  }

  /** Runs a request and waits up to 10 s for it; READ data lands in {@code data}. */
  public IoStatus run(IoOp op, long sector, byte[] data) throws Exception {
    try {
      return start(op, sector, data).get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof Exception x ? x : e;
    } catch (TimeoutException e) {
      throw new AssertionError(op + " at " + sector + " did not complete in 10 s", e);
    }
  }

  /**
   * Starts a request: READ and WRITE carry {@code data} (its length is the request's), FLUSH and
   * the range ops carry none ({@code data} may be null; for DISCARD and WRITE_ZEROES pass an array
   * of the range's length). The future ends when every piece ended, with the first failure, or
   * with null when the target asked to requeue a piece (the core would retry it after a resume).
   */
  public CompletableFuture<IoStatus> start(IoOp op, long sector, byte[] data) {
    int bytes = op == IoOp.FLUSH || data == null ? 0 : data.length;
    ByteBuffer buf = op.hasData() ? ByteBuffer.allocateDirect(bytes).put(0, data) : null;
    CompletableFuture<IoStatus> done = new CompletableFuture<>();
    if (sector < 0 || sector + (bytes >> IoRequest.SECTOR_SHIFT) > length) {
      done.complete(op.changesData() ? IoStatus.ENOSPC : IoStatus.EINVAL);
      return done;
    }
    Original o = new Original(done, op == IoOp.READ ? data : null, buf);
    if (op == IoOp.FLUSH) {
      piece(o, op, 0, 0, null, 0);
    } else {
      long max = target.maxIoSectors();
      long end = sector + (bytes >> IoRequest.SECTOR_SHIFT);
      int off = 0;
      for (long s = sector; s < end; ) {
        long n = end - s;
        if (max > 0 && !(!op.hasData() && target.takesWholeRanges())) {
          n = Math.min(n, max - s % max);
        }
        piece(o, op, s, (int) (n << IoRequest.SECTOR_SHIFT), buf, off);
        s += n;
        off += (int) (n << IoRequest.SECTOR_SHIFT);
      }
    }
    o.release(IoStatus.OK);
    return done;
  }

  private void piece(Original o, IoOp op, long sector, int bytes, ByteBuffer buf, int off) {
    o.pending.incrementAndGet();
    Piece p = new Piece(o);
    IoRequest r = p.request;
    if (op.hasData()) {
      r.prepare(op, 0, sector, bytes, buf.slice(off, bytes), 0, p);
    } else {
      r.prepareRange(op, 0, sector, bytes, p);
    }
    RequestData d = target.newRequestData();
    if (d != null) {
      d.reset();
      r.bindTargetData(d);
    }
    MapResult res = target.map(r);
    switch (res) {
      case REMAPPED -> r.device().submit(r);
      case SUBMITTED -> { }
      case KILL -> o.release(IoStatus.EIO);
      case REQUEUE -> o.requeue();
    }
  }

  /** A whole request: its pieces still out and its first failure. */
  private static final class Original {
    final CompletableFuture<IoStatus> done;
    final byte[] readInto;
    final ByteBuffer buf;
    final AtomicInteger pending = new AtomicInteger(1);
    volatile IoStatus first = IoStatus.OK;
    volatile boolean requeued;

    Original(CompletableFuture<IoStatus> done, byte[] readInto, ByteBuffer buf) {
      this.done = done;
      this.readInto = readInto;
      this.buf = buf;
    }

    /** The target handed a piece back: the request ends with null, for the core would retry it. */
    void requeue() {
      requeued = true;
      release(IoStatus.OK);
    }

    synchronized void release(IoStatus s) {
      if (s != IoStatus.OK && first == IoStatus.OK) {
        first = s;
      }
      if (pending.decrementAndGet() == 0) {
        if (readInto != null && first == IoStatus.OK) {
          buf.get(0, readInto);
        }
        done.complete(requeued ? null : first);
      }
    }
  }

  /** One piece's completion: end_io first, as the core runs it. */
  private final class Piece implements IoCompletion {
    final IoRequest request = new IoRequest();
    final Original original;
    boolean ended;

    Piece(Original original) {
      this.original = original;
    }

    @Override
    public void completed(IoRequest r) {
      IoStatus status = r.status();
      if (endIo) {
        r.overrideStatus(null);
        EndIoResult res = target.endIo(r, status);
        if (res == EndIoResult.INCOMPLETE) {
          return;
        }
        if (r.status() != null) {
          status = r.status();
        }
        if (res != EndIoResult.DONE) {
          original.requeue();
          return;
        }
      }
      synchronized (this) {
        if (ended) {
          original.done.completeExceptionally(new AssertionError(type.name()
              + ": a piece completed twice: " + r));
          return;
        }
        ended = true;
      }
      original.release(status);
    }

    @Override
    public String toString() {
      return "harness: " + type.name();
    }
  }

  @Override
  public void close() {
    target.close();
  }
}
