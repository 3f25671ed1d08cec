package dev.jdm.fuse.proto;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A FUSE mount served over {@code /dev/fuse} by a few worker threads, each reading requests into
 * its own buffer (the kernel hands each request to exactly one reader) and answering them itself.
 * The session does the protocol's own business: INIT negotiation, INTERRUPT, FORGET, DESTROY,
 * ENOSYS for opcodes it does not know, EIO for a file-system method that throws; the rest goes to
 * the {@link FuseFilesystem}.
 *
 * <p>Shutdown: {@link #close} detaches the mount, waits for the kernel to end the connection once
 * the last open file is closed, and aborts the connection through fusectl if that takes too long.
 */
public final class FuseSession implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FuseSession.class);
  private static final Path FUSECTL = Path.of("/sys/fs/fuse/connections");
  private static final int PAGE = 4096;

  /**
   * How to mount and serve.
   *
   * @param threads worker threads, each with one request in hand at a time
   * @param idleThreads how many of them wait in read(2) for requests when the mount is idle
   * @param maxWrite the largest READ or WRITE to ask the kernel for, a multiple of 4096
   * @param maxBackground how many background requests (readahead, async direct I/O) the kernel
   *     keeps in flight
   * @param initTimeout how long {@link #mount} waits for the kernel's INIT
   * @param allowOther whether users other than the mounting one may use the mount
   */
  public record Options(int threads, int idleThreads, int maxWrite, int maxBackground,
      Duration initTimeout, boolean allowOther) {}

  private final Path mountPoint;
  private final Options options;
  private final FuseFilesystem fs;
  private final int fd;
  private final Arena arena = Arena.ofShared();
  private final List<Thread> workers = new ArrayList<>();
  /** The unique id each worker is handling, 0 when idle; INTERRUPT looks here. */
  private final AtomicLongArray inFlight;
  /** Workers in (or about to enter) read(2) on the device. */
  private final AtomicInteger reading = new AtomicInteger();
  private final Standby standby;
  private final BooleanSupplier nobodyReading = () -> reading.get() == 0;
  private final CountDownLatch initDone = new CountDownLatch(1);
  private final AtomicLong interrupts = new AtomicLong();
  private volatile FuseInit terms;
  private volatile String initFailure;
  private long connection = -1;
  private boolean closed;

  private FuseSession(Path mountPoint, Options options, FuseFilesystem fs, int fd) {
    this.mountPoint = mountPoint;
    this.options = options;
    this.fs = fs;
    this.fd = fd;
    this.inFlight = new AtomicLongArray(options.threads());
    this.standby = new Standby(options.threads());
  }

  /**
   * Mounts a FUSE file system of type {@code fuse.<name>} on {@code mountPoint} (which must be an
   * absolute, existing directory) and serves it until {@link #close}. Returns once INIT is done.
   */
  public static FuseSession mount(Path mountPoint, String name, Options options, FuseFilesystem fs)
      throws IOException {
    int fd = LinuxCalls.open("/dev/fuse", LinuxCalls.O_RDWR | LinuxCalls.O_CLOEXEC);
    FuseSession s = new FuseSession(mountPoint, options, fs, fd);
    String data = "fd=" + fd + ",rootmode=40000,user_id=" + LinuxCalls.geteuid() + ",group_id="
        + LinuxCalls.getegid() + ",default_permissions"
        + (options.allowOther() ? ",allow_other" : "");
    try {
      LinuxCalls.mount(name, mountPoint.toString(), "fuse." + name,
          LinuxCalls.MS_NOSUID | LinuxCalls.MS_NODEV, data);
    } catch (LinuxException e) {
      LinuxCalls.close(fd);
      s.arena.close();
      throw e;
    }
    try {
      MountTable.Mount m = MountTable.top(mountPoint);
      s.connection = m != null && m.type().equals("fuse." + name) ? m.connection() : -1;
      s.start();
      if (!s.initDone.await(options.initTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IOException("the kernel sent no FUSE INIT within " + options.initTimeout());
      }
      if (s.initFailure != null) {
        throw new IOException(s.initFailure);
      }
      return s;
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      s.close();
      throw new IOException("interrupted while waiting for FUSE INIT", e);
    }
  }

  private void start() {
    for (int i = 0; i < options.threads(); i++) {
      int index = i;
      FuseRequest r = new FuseRequest(fd, options.maxWrite(), arena);
      Thread t = Thread.ofPlatform().daemon().name("jdm-fuse-" + i)
          .unstarted(() -> serve(index, r));
      workers.add(t);
      standby.register(i, t);
    }
    workers.forEach(Thread::start);
  }

  /** What INIT agreed on. */
  public FuseInit terms() {
    return terms;
  }

  /** How many INTERRUPT requests came, for diagnostics. */
  public long interrupts() {
    return interrupts.get();
  }

  /** Where it is mounted. */
  public Path mountPoint() {
    return mountPoint;
  }

  // ---------------------------------------------------------------- workers

  /**
   * Takes a place among the workers reading the device, or parks until one is free.
   *
   * @return false once the session is over
   */
  private boolean becomeReader(int index) {
    while (true) {
      int n = reading.get();
      if (n >= options.idleThreads()) {
        if (!standby.park(index, nobodyReading)) {
          return false;
        }
      } else if (reading.compareAndSet(n, n + 1)) {
        return true;
      }
    }
  }

  private void serve(int index, FuseRequest r) {
    while (becomeReader(index)) {
      int err = r.receive();
      int stillReading = reading.decrementAndGet();
      if (err == Errno.ENODEV) {
        standby.end();
        return;
      }
      if (stillReading == 0) {
        // Nobody waits for the next request while this one is handled: wake a worker for it.
        standby.wakeOne();
      }
      if (err != 0) {
        // EINTR, EAGAIN: retry; ENOENT: the request was interrupted before we got it.
        if (err != Errno.EINTR && err != Errno.EAGAIN && err != Errno.ENOENT) {
          LOG.error("fuse {}: reading /dev/fuse failed: {}", mountPoint, LinuxCalls.describe(err));
          if (err != Errno.EPROTO) {
            standby.end();
            return;
          }
        }
        continue;
      }
      String wrong = r.fit();
      if (wrong != null) {
        // go-fuse's "short read": a request too short for its opcode is refused, never decoded.
        LOG.warn("fuse {}: {} refused: {}", mountPoint, FuseWire.opName(r.opcode()), wrong);
        if (r.opcode() != FuseWire.FORGET && r.opcode() != FuseWire.BATCH_FORGET) {
          r.replyError(Errno.EIO);
        }
        continue;
      }
      inFlight.set(index, r.unique());
      try {
        handle(r);
        if (!r.answered()) {
          LOG.error("fuse {}: {} got no reply from the file system", mountPoint,
              FuseWire.opName(r.opcode()));
          r.replyError(Errno.EIO);
        }
      } catch (Throwable t) {
        LOG.error("fuse {}: {} on node {} failed", mountPoint, FuseWire.opName(r.opcode()),
            r.nodeId(), t);
        if (!r.answered()) {
          try {
            r.replyError(Errno.EIO);
          } catch (RuntimeException e) {
            LOG.error("fuse {}: could not send EIO: {}", mountPoint, e.getMessage());
          }
        }
      } finally {
        inFlight.set(index, 0);
      }
    }
  }

  private void handle(FuseRequest r) {
    long node = r.nodeId();
    FuseArgs a = r.args();
    switch (r.opcode()) {
      case FuseWire.INIT -> init(r);
      case FuseWire.INTERRUPT -> interrupt(r);
      case FuseWire.FORGET -> {
        r.noReply();
        fs.forget(node, a.forgetLookups());
      }
      case FuseWire.BATCH_FORGET -> {
        r.noReply();
        for (int i = 0; i < a.batchCount(); i++) {
          fs.forget(a.forgetNode(i), a.forgetCount(i));
        }
      }
      case FuseWire.DESTROY -> r.replyOk();
      case FuseWire.LOOKUP -> fs.lookup(r, node, a.name());
      case FuseWire.GETATTR -> fs.getattr(r, node);
      case FuseWire.SETATTR ->
          fs.setattr(r, node, a.setattr().valid(), a.setattr().size(), a.setattr().mode());
      case FuseWire.OPEN -> fs.open(r, node, a.openFlags());
      case FuseWire.READ -> fs.read(r, node, a.read().fh(), a.read().offset(), a.read().size());
      case FuseWire.WRITE -> fs.write(r, node, a.write().fh(), a.write().offset(),
          a.write().size(), a.write().fileFlags());
      case FuseWire.FLUSH -> fs.flush(r, node, a.fh());
      case FuseWire.FSYNC ->
          fs.fsync(r, node, a.fh(), (a.fsyncFlags() & FuseWire.FSYNC_FDATASYNC) != 0);
      case FuseWire.RELEASE -> fs.release(r, node, a.fh());
      case FuseWire.OPENDIR -> fs.opendir(r, node);
      case FuseWire.READDIR ->
          fs.readdir(r, node, a.read().fh(), a.read().offset(), a.read().size());
      case FuseWire.RELEASEDIR -> fs.releasedir(r, node, a.fh());
      case FuseWire.FSYNCDIR -> r.replyOk();
      case FuseWire.STATFS -> fs.statfs(r);
      case FuseWire.FALLOCATE -> fs.fallocate(r, node, a.fh(), a.rangeOffset(),
          a.fallocateLength(), a.fallocateMode());
      case FuseWire.LSEEK -> fs.lseek(r, node, a.fh(), a.rangeOffset(), a.whence());
      case FuseWire.CREATE, FuseWire.MKNOD, FuseWire.MKDIR, FuseWire.SYMLINK, FuseWire.LINK,
          FuseWire.UNLINK, FuseWire.RMDIR, FuseWire.RENAME, FuseWire.RENAME2, FuseWire.TMPFILE ->
          fs.changeNames(r);
      default -> r.replyError(Errno.ENOSYS);
    }
  }

  /**
   * Negotiates the protocol: the smaller minor version of both sides, the wanted flags the kernel
   * offers, and request sizes of {@code maxWrite}.
   */
  private void init(FuseRequest r) {
    FuseArgs.Init in = r.args().init();
    int major = in.major();
    int minor = in.minor();
    int readahead = in.maxReadahead();
    long offered = in.flags() & 0xffffffffL;
    if ((offered & FuseWire.INIT_EXT) != 0) {
      offered |= (in.flags2() & 0xffffffffL) << 32;
    }
    if (major > FuseWire.KERNEL_VERSION) {
      // The kernel then sends INIT again, in our major version.
      r.clearOut(FuseWire.INIT_OUT_SIZE);
      r.outInt(0, FuseWire.KERNEL_VERSION);
      r.outInt(4, FuseWire.MAX_MINOR);
      r.reply(FuseWire.INIT_OUT_SIZE);
      return;
    }
    if (major < FuseWire.KERNEL_VERSION || minor < FuseWire.MIN_MINOR) {
      initFailure = "the kernel speaks FUSE " + major + "." + minor + "; jdm needs "
          + FuseWire.KERNEL_VERSION + "." + FuseWire.MIN_MINOR + " or newer";
      r.replyError(Errno.EPROTO);
      initDone.countDown();
      return;
    }
    long wanted = FuseWire.ASYNC_READ | FuseWire.ATOMIC_O_TRUNC | FuseWire.BIG_WRITES
        | FuseWire.ASYNC_DIO | FuseWire.PARALLEL_DIROPS | FuseWire.MAX_PAGES | FuseWire.INIT_EXT
        | FuseWire.DIRECT_IO_ALLOW_MMAP;
    long agreed = wanted & offered;
    int maxPages = options.maxWrite() / PAGE;
    int maxBackground = Math.min(options.maxBackground(), 0xffff);
    r.clearOut(FuseWire.INIT_OUT_SIZE);
    r.outInt(0, FuseWire.KERNEL_VERSION);
    r.outInt(4, Math.min(minor, FuseWire.MAX_MINOR));
    r.outInt(8, readahead);
    r.outInt(12, (int) agreed);
    r.outShort(16, maxBackground);
    r.outShort(18, maxBackground * 3 / 4);
    r.outInt(20, options.maxWrite());
    r.outInt(24, 1);
    r.outShort(28, maxPages);
    r.outInt(32, (int) (agreed >>> 32));
    int maxRead = (agreed & FuseWire.MAX_PAGES) != 0 ? options.maxWrite() : 32 * PAGE;
    FuseInit t = new FuseInit(Math.min(minor, FuseWire.MAX_MINOR), agreed, options.maxWrite(),
        maxRead);
    fs.init(t);
    terms = t;
    r.reply(FuseWire.INIT_OUT_SIZE);
    LOG.debug("fuse {}: kernel FUSE {}.{}, using 7.{}, flags {}", mountPoint, major, minor,
        t.minor(), Long.toHexString(agreed));
    initDone.countDown();
  }

  /**
   * A request's caller got a signal. Block I/O already handed to a device cannot be called back,
   * so a request still being handled just finishes (the protocol allows that); an interrupt for a
   * request this session has not picked up yet is answered EAGAIN, which makes the kernel send it
   * again later. For a request already answered, the kernel drops that EAGAIN.
   */
  private void interrupt(FuseRequest r) {
    interrupts.incrementAndGet();
    long target = r.args().interrupted();
    for (int i = 0; i < inFlight.length(); i++) {
      if (inFlight.get(i) == target) {
        r.noReply();
        return;
      }
    }
    r.replyError(Errno.EAGAIN);
  }

  // ---------------------------------------------------------- notifications

  /** Tells the kernel to forget what it cached of {@code name} in directory {@code parent}. */
  public void invalidateEntry(long parent, String name) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    notify(FuseWire.NOTIFY_INVAL_ENTRY, 16 + n.length + 1, s -> {
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, parent);
      s.set(ValueLayout.JAVA_INT_UNALIGNED, 8, n.length);
      MemorySegment.copy(n, 0, s, ValueLayout.JAVA_BYTE, 16, n.length);
    });
  }

  /** Tells the kernel that {@code name} (node {@code child}) was deleted from {@code parent}. */
  public void deleted(long parent, long child, String name) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    notify(FuseWire.NOTIFY_DELETE, 24 + n.length + 1, s -> {
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, parent);
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, child);
      s.set(ValueLayout.JAVA_INT_UNALIGNED, 16, n.length);
      MemorySegment.copy(n, 0, s, ValueLayout.JAVA_BYTE, 24, n.length);
    });
  }

  /** Tells the kernel to drop the cached attributes (size) of {@code node}. */
  public void invalidateAttributes(long node) {
    notify(FuseWire.NOTIFY_INVAL_INODE, 24, s -> {
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, node);
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, -1L);
      s.set(ValueLayout.JAVA_LONG_UNALIGNED, 16, 0L);
    });
  }

  private void notify(int code, int bodyLength, Consumer<MemorySegment> body) {
    if (terms == null) {
      return;
    }
    try (Arena a = Arena.ofConfined()) {
      int total = FuseWire.OUT_HEADER + bodyLength;
      MemorySegment m = a.allocate(total, 8);
      m.set(ValueLayout.JAVA_INT_UNALIGNED, FuseWire.OUT_LEN, total);
      m.set(ValueLayout.JAVA_INT_UNALIGNED, FuseWire.OUT_ERROR, code);
      body.accept(m.asSlice(FuseWire.OUT_HEADER));
      long n = LinuxCalls.write(LinuxCalls.errnoSlot(a), fd, m.address(), total);
      // ENOENT: nothing cached to forget; ENODEV: the mount is gone.
      if (n < 0 && n != -Errno.ENOENT && n != -Errno.ENODEV) {
        LOG.debug("fuse {}: notification {} failed: {}", mountPoint, code,
            LinuxCalls.describe((int) -n));
      }
    }
  }

  // --------------------------------------------------------------- shutdown

  /** Detaches the mount from the directory tree; the kernel ends it when its last file closes. */
  public void detach() {
    try {
      LinuxCalls.umount2(mountPoint.toString(), LinuxCalls.MNT_DETACH);
    } catch (LinuxException e) {
      if (e.errno() != Errno.EINVAL && e.errno() != Errno.ENOENT) {
        LOG.warn("fuse {}: {}", mountPoint, e.getMessage());
      }
    }
  }

  /** Waits up to {@code timeout} for every worker to see the connection end. */
  public boolean awaitEnd(Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      for (Thread t : workers) {
        long left = deadline - System.nanoTime();
        if (left <= 0 || !t.join(Duration.ofNanos(left))) {
          return false;
        }
      }
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Ends the connection at once through fusectl (mounting fusectl if it is not): pending and
   * future requests of the mount fail with ENOTCONN, and the workers stop.
   */
  public void abort() {
    if (connection < 0) {
      LOG.error("fuse {}: cannot abort: connection number unknown", mountPoint);
      return;
    }
    try {
      if (!Files.isDirectory(FUSECTL.resolve(Long.toString(connection)))) {
        LinuxCalls.mount("fusectl", FUSECTL.toString(), "fusectl", 0, null);
      }
      Files.writeString(FUSECTL.resolve(Long.toString(connection)).resolve("abort"), "1");
    } catch (IOException e) {
      LOG.error("fuse {}: cannot abort the connection: {}", mountPoint, e.getMessage());
    }
  }

  /**
   * Detaches the mount, waits {@code timeout} for the kernel to end it, aborts the connection if
   * it did not, and frees the buffers once no worker uses them. Idempotent.
   */
  public synchronized void close(Duration timeout) {
    if (closed) {
      return;
    }
    closed = true;
    detach();
    if (!awaitEnd(timeout)) {
      LOG.warn("fuse {}: files still open {} ms after unmount (a mounted loop device?); aborting"
          + " the connection", mountPoint, timeout.toMillis());
      abort();
      if (!awaitEnd(Duration.ofSeconds(5))) {
        // Workers still read into the buffers: leave them and the descriptor to process exit.
        LOG.error("fuse {}: workers did not stop; leaving them to process exit", mountPoint);
        return;
      }
    }
    LinuxCalls.close(fd);
    arena.close();
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(10));
  }
}
