package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Ceph RBD image used as a backing device, through librbd's asynchronous calls (the same library
 * qemu and rbd-nbd use; jdm speaks no RADOS itself). Each request takes a pooled slot and one
 * librbd completion, whose callback, on a librbd thread, completes the request. Direct buffers go
 * to librbd as they are; heap buffers through the slot's own direct buffer.
 *
 * <p>When the cluster goes away librbd retries by itself; a request fails with EIO only once it has
 * waited {@code jdm.kernel.rbd.io-timeout} ({@code rados_osd_op_timeout}).
 */
final class RbdDevice implements BlockDevice, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RbdDevice.class);
  private static final int ENOENT = 2;
  /** Runs the second step of FUA and PREFLUSH writes, off librbd's callback thread. */
  private static final Executor FOLLOW_UP = Executors.newSingleThreadExecutor(
      Thread.ofPlatform().daemon().name("rbd-follow-up").factory());

  /**
   * Defaults for what an {@code rbd:} path does not say.
   *
   * @param conf the ceph.conf, or null for librados's usual places
   * @param id the client id, or null for admin
   * @param connectTimeout how long connecting may take
   * @param ioTimeout how long one operation may wait for the cluster, zero for ever
   */
  record Options(String conf, String id, Duration connectTimeout, Duration ioTimeout) {}

  private final RbdSpec spec;
  private final Librbd lib;
  private final RadosCluster cluster;
  private final long ioctx;
  private final long image;
  private final long sectors;
  private final boolean readOnly;

  private RbdDevice(RbdSpec spec, Librbd lib, RadosCluster cluster, long ioctx, long image,
      long sectors, boolean readOnly) {
    this.spec = spec;
    this.lib = lib;
    this.cluster = cluster;
    this.ioctx = ioctx;
    this.image = image;
    this.sectors = sectors;
    this.readOnly = readOnly;
  }

  /**
   * Opens the image {@code spec} names, read-only when it names a snapshot.
   *
   * @throws IOException with a short reason: librbd missing, no cluster, no pool, no image
   */
  static RbdDevice open(RbdSpec spec, Options defaults) throws IOException {
    Librbd lib = Librbd.load();
    RadosCluster cluster = RadosCluster.connect(lib, spec.id() != null ? spec.id() : defaults.id(),
        spec.conf() != null ? spec.conf() : defaults.conf(), spec.options(),
        defaults.connectTimeout(), defaults.ioTimeout());
    long ioctx = 0;
    long image = 0;
    try (Arena a = Arena.ofConfined()) {
      MemorySegment out = a.allocate(ValueLayout.JAVA_LONG);
      int rc = lib.ioctxCreate(cluster.handle, a.allocateFrom(spec.pool()).address(),
          out.address());
      if (rc < 0) {
        throw new IOException(rc == -ENOENT ? "no pool '" + spec.pool() + "'"
            : "pool " + spec.pool() + ": " + lib.strerror(-rc));
      }
      ioctx = out.get(ValueLayout.JAVA_LONG, 0);
      if (!spec.namespace().isEmpty()) {
        lib.ioctxSetNamespace(ioctx, a.allocateFrom(spec.namespace()).address());
      }
      boolean readOnly = spec.snapshot() != null;
      rc = lib.open(ioctx, a.allocateFrom(spec.image()).address(), out.address(),
          readOnly ? a.allocateFrom(spec.snapshot()).address() : 0, readOnly);
      if (rc < 0) {
        throw new IOException(rc == -ENOENT
            ? (readOnly ? "no image '" + spec.image() + "' with snapshot '" + spec.snapshot()
                + "'" : "no image '" + spec.image() + "'") + " in pool " + spec.pool()
            : "image " + spec.image() + ": " + lib.strerror(-rc));
      }
      image = out.get(ValueLayout.JAVA_LONG, 0);
      rc = lib.getSize(image, out.address());
      if (rc < 0) {
        throw new IOException("image " + spec.image() + ": size: " + lib.strerror(-rc));
      }
      long bytes = out.get(ValueLayout.JAVA_LONG, 0);
      RbdDevice d = new RbdDevice(spec, lib, cluster, ioctx, image,
          bytes >>> IoRequest.SECTOR_SHIFT, readOnly);
      LOG.info("{}: {} bytes{}", spec, bytes, readOnly ? ", read-only snapshot" : "");
      return d;
    } catch (IOException | RuntimeException e) {
      if (image != 0) {
        lib.close(image);
      }
      if (ioctx != 0) {
        lib.ioctxDestroy(ioctx);
      }
      cluster.release();
      throw e;
    }
  }

  @Override
  public String path() {
    return spec.text();
  }

  @Override
  public long sizeInSectors() {
    return sectors;
  }

  @Override
  public boolean readOnly() {
    return readOnly;
  }

  @Override
  public boolean supports(IoOp op) {
    return true;
  }

  // ------------------------------------------------------------------ requests

  /** One request handed to librbd; pooled, found again by its index in the callback. */
  private static final class Slot {
    final int index;
    /** Where librbd puts the completion it creates. */
    final MemorySegment out = Arena.global().allocate(ValueLayout.JAVA_LONG);
    RbdDevice device;
    IoRequest request;
    /** The request's data for librbd when the caller's buffer is on the heap. */
    ByteBuffer bounce;
    long bounceAddress;
    /** What the request still needs after the current call: a flush, or the write itself. */
    boolean flushAfter;
    boolean writeAfter;

    Slot(int index) {
      this.index = index;
    }
  }

  private static final Object SLOTS_LOCK = new Object();
  private static volatile Slot[] slots = new Slot[0];
  private static int[] free = new int[0];
  private static int freeCount;

  private static Slot take() {
    synchronized (SLOTS_LOCK) {
      if (freeCount == 0) {
        Slot[] more = Arrays.copyOf(slots, Math.max(64, slots.length * 2));
        int[] moreFree = new int[more.length];
        for (int i = slots.length; i < more.length; i++) {
          more[i] = new Slot(i);
          moreFree[freeCount++] = i;
        }
        free = moreFree;
        slots = more;
      }
      return slots[free[--freeCount]];
    }
  }

  private static void give(Slot s) {
    s.request = null;
    s.device = null;
    synchronized (SLOTS_LOCK) {
      free[freeCount++] = s.index;
    }
  }

  @Override
  public void submit(IoRequest r) {
    if (readOnly && r.op().changesData()) {
      r.complete(IoStatus.EPERM);
      return;
    }
    Slot s = take();
    s.device = this;
    s.request = r;
    boolean fua = r.hasFlag(IoRequest.FUA) && r.op().changesData();
    s.flushAfter = fua;
    s.writeAfter = r.hasFlag(IoRequest.PREFLUSH) && r.op() != IoOp.FLUSH;
    if (r.op().hasData() && !r.data().isDirect()) {
      bounce(s, r);
    }
    int rc = issue(s, s.writeAfter ? IoOp.FLUSH : r.op());
    if (rc < 0) {
      end(s, rc);
    }
  }

  private static void bounce(Slot s, IoRequest r) {
    if (s.bounce == null || s.bounce.capacity() < r.bytes()) {
      s.bounce = ByteBuffer.allocateDirect(Math.max(r.bytes(), 64 << 10));
      s.bounceAddress = MemorySegment.ofBuffer(s.bounce).address();
    }
    if (r.op() == IoOp.WRITE) {
      s.bounce.put(0, r.data(), r.dataOffset(), r.bytes());
    }
  }

  /** Hands one call for the slot's request to librbd; a negative errno when it refused. */
  private int issue(Slot s, IoOp op) {
    IoRequest r = s.request;
    int rc = lib.createCompletion(s.index, s.out.address());
    if (rc < 0) {
      return rc;
    }
    long c = s.out.get(ValueLayout.JAVA_LONG, 0);
    long offset = r.sector() << IoRequest.SECTOR_SHIFT;
    long length = r.sectors() << IoRequest.SECTOR_SHIFT;
    rc = switch (op) {
      case READ -> lib.aioRead(image, offset, length, address(s, r), c);
      case WRITE -> lib.aioWrite(image, offset, length, address(s, r), c);
      case FLUSH -> lib.aioFlush(image, c);
      case DISCARD -> lib.aioDiscard(image, offset, length, c);
      case WRITE_ZEROES -> lib.aioWriteZeroes(image, offset, length, c,
          r.hasFlag(IoRequest.NO_UNMAP) ? Librbd.WRITE_ZEROES_THICK : 0);
    };
    if (rc < 0) {
      lib.aioRelease(c);
    }
    return rc;
  }

  private static long address(Slot s, IoRequest r) {
    ByteBuffer d = r.data();
    return d.isDirect() ? BufferAddresses.base(d) + r.dataOffset() : s.bounceAddress;
  }

  /** librbd's completion callback ({@code rbd_callback_t}), on a librbd thread. */
  static void completed(long completion, long arg) {
    try {
      Slot s = slots[(int) arg];
      Librbd lib = s.device.lib;
      long rc = lib.aioReturnValue(completion);
      lib.aioRelease(completion);
      s.device.step(s, rc);
    } catch (Throwable t) {
      // Nothing may reach librbd's thread: it would end the JVM.
      LOG.error("rbd completion failed", t);
    }
  }

  /** One call of the slot's request ended with {@code rc}: the next call, or the end. */
  private void step(Slot s, long rc) {
    if (rc >= 0 && s.writeAfter) {
      s.writeAfter = false;
      FOLLOW_UP.execute(() -> follow(s, s.request.op()));
      return;
    }
    if (rc >= 0 && s.flushAfter) {
      s.flushAfter = false;
      FOLLOW_UP.execute(() -> follow(s, IoOp.FLUSH));
      return;
    }
    end(s, rc);
  }

  private void follow(Slot s, IoOp op) {
    int rc = issue(s, op);
    if (rc < 0) {
      end(s, rc);
    }
  }

  private void end(Slot s, long rc) {
    IoRequest r = s.request;
    IoStatus status = rc >= 0 ? IoStatus.OK : status((int) -rc);
    if (rc >= 0 && r.op() == IoOp.READ && !r.data().isDirect()) {
      r.data().put(r.dataOffset(), s.bounce, 0, r.bytes());
    }
    if (rc < 0) {
      LOG.warn("{}: {} failed: {}", spec, r, lib.strerror((int) -rc));
    }
    give(s);
    r.complete(status);
  }

  private static IoStatus status(int errno) {
    return switch (errno) {
      case 1, 13, 30 -> IoStatus.EPERM;
      case 12 -> IoStatus.ENOMEM;
      case 22 -> IoStatus.EINVAL;
      case 28, 122 -> IoStatus.ENOSPC;
      case 95 -> IoStatus.EOPNOTSUPP;
      case 108 -> IoStatus.ESHUTDOWN;
      default -> IoStatus.EIO;
    };
  }

  // ------------------------------------------------------------------ block status

  private static final ConcurrentHashMap<Long, List<long[]>> DIFFS = new ConcurrentHashMap<>();
  private static final AtomicLong DIFF_IDS = new AtomicLong();

  /** rbd_diff_iterate2's callback: one written ({@code exists}) or discarded extent. */
  static int extent(long offset, long length, int exists, long arg) {
    try {
      List<long[]> into = DIFFS.get(arg);
      if (into != null) {
        into.add(new long[] {offset, length, exists});
      }
      return 0;
    } catch (Throwable t) {
      return -1;
    }
  }

  /**
   * Reports what librbd says was ever written as data, the rest as holes that read as zeros. When
   * librbd cannot tell, everything is data.
   */
  @Override
  public void blockStatus(long sector, long count, ExtentSink sink) {
    long from = sector << IoRequest.SECTOR_SHIFT;
    long to = (sector + count) << IoRequest.SECTOR_SHIFT;
    long id = DIFF_IDS.incrementAndGet();
    List<long[]> extents = new ArrayList<>();
    DIFFS.put(id, extents);
    int rc;
    try {
      rc = lib.diffIterate(image, from, to - from, id);
    } finally {
      DIFFS.remove(id);
    }
    if (rc < 0) {
      LOG.debug("{}: cannot tell allocation: {}", spec, lib.strerror(-rc));
      sink.extent(count, 0);
      return;
    }
    extents.sort((a, b) -> Long.compare(a[0], b[0]));
    long pos = from;
    for (long[] e : extents) {
      long start = Math.max(pos, e[0] & ~(IoRequest.SECTOR_SIZE - 1L));
      long end = Math.min(to, (e[0] + e[1] + IoRequest.SECTOR_SIZE - 1)
          & ~(IoRequest.SECTOR_SIZE - 1L));
      if (e[2] == 0 || end <= start) {
        continue;
      }
      if (start > pos && !sink.extent((start - pos) >>> IoRequest.SECTOR_SHIFT,
          ExtentSink.HOLE | ExtentSink.ZERO)) {
        return;
      }
      if (!sink.extent((end - start) >>> IoRequest.SECTOR_SHIFT, 0)) {
        return;
      }
      pos = end;
    }
    if (pos < to) {
      sink.extent((to - pos) >>> IoRequest.SECTOR_SHIFT, ExtentSink.HOLE | ExtentSink.ZERO);
    }
  }

  /** Closes the image; the cluster connection goes with its last image. */
  @Override
  public void close() {
    int rc = lib.close(image);
    if (rc < 0) {
      LOG.warn("{}: close failed: {}", spec, lib.strerror(-rc));
    }
    lib.ioctxDestroy(ioctx);
    cluster.release();
  }

  @Override
  public String toString() {
    return spec.text();
  }
}
