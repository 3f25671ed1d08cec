package dev.jdm.kernel;

import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoStatus;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records every request a device completes as one CSV line, the seed's bio log built in. The
 * completing thread only drops the record into a bounded lock-free buffer (no allocation, no lock,
 * no I/O); one writer thread drains it into the file. When the buffer is full the record is
 * dropped and counted: {@link #dropped()} says how many, so nothing is lost silently.
 *
 * <p>Columns, in the order of {@link #HEADER}: {@code time_ns} when the device accepted the
 * request, in nanoseconds since the trace started (monotonic clock; the wall-clock start is
 * {@link #startedAt()}); {@code op} in lower case ({@code read}, {@code write}, {@code flush},
 * {@code discard}, {@code write_zeroes}); {@code sector} the first 512-byte sector; {@code bytes};
 * {@code latency_us} in microseconds with three decimals; {@code result} {@code OK} or the error
 * name ({@code EIO}, ...). Lines are written in batches, per group of completing threads, every
 * drain interval: {@code time_ns} is in order only within a thread (sort by it for strict order).
 */
public final class TraceRecorder implements IoTracer, AutoCloseable {
  /** The first line of every trace file. */
  public static final String HEADER = "time_ns,op,sector,bytes,latency_us,result";

  private static final Logger LOG = LoggerFactory.getLogger(TraceRecorder.class);
  private static final IoOp[] OPS = IoOp.values();
  private static final IoStatus[] STATUSES = IoStatus.values();
  private static final byte[][] OP_NAMES = new byte[OPS.length][];
  private static final byte[][] STATUS_NAMES = new byte[STATUSES.length][];
  /** Longest line: five numbers of at most 20 characters, the longest names, separators. */
  private static final int LINE_MAX = 5 * 20 + 12 + 10 + 8;
  private static final int BUFFER_BYTES = 1 << 16;
  private static final byte[] MIN_LONG =
      Long.toString(Long.MIN_VALUE).getBytes(StandardCharsets.US_ASCII);
  private static final long DROP_WARN_NANOS = TimeUnit.SECONDS.toNanos(1);

  static {
    for (IoOp op : OPS) {
      OP_NAMES[op.ordinal()] =
          op.name().toLowerCase(Locale.ROOT).getBytes(StandardCharsets.US_ASCII);
    }
    for (IoStatus s : STATUSES) {
      STATUS_NAMES[s.ordinal()] = s.name().getBytes(StandardCharsets.US_ASCII);
    }
  }

  private final String device;
  private final WritableByteChannel out;
  private final TraceRing ring;
  private final long drainNanos;
  private final long origin = System.nanoTime();
  private final Instant startedAt = Instant.now();
  /** Lines not yet written: {@code text[0, at)}; {@code view} wraps it for the channel. */
  private final byte[] text = new byte[BUFFER_BYTES];
  private final ByteBuffer view = ByteBuffer.wrap(text);
  private int at;
  private final Thread writer;
  private volatile boolean closing;
  /** {@link #lines} and {@link #lostLines} as of the last flush, for other threads. */
  private volatile long written;
  private volatile long lost;
  private long lines;
  private long lostLines;
  private IOException failure;

  /**
   * Starts recording into {@code out}, which the recorder owns and closes.
   *
   * @param device the device's name, for logs and the writer thread's name
   * @param capacity records the ring holds before it drops (rounded up to a power of two)
   * @param drainInterval how long the writer sleeps when the ring is empty
   */
  public TraceRecorder(String device, WritableByteChannel out, int capacity,
      Duration drainInterval) throws IOException {
    this.device = device;
    this.out = out;
    this.ring = new TraceRing(capacity);
    this.drainNanos = drainInterval.toNanos();
    ByteBuffer header = ByteBuffer.wrap((HEADER + "\n").getBytes(StandardCharsets.US_ASCII));
    while (header.hasRemaining()) {
      out.write(header);
    }
    writer = Thread.ofPlatform().daemon().name("jdm-trace-" + device).unstarted(this::run);
    writer.start();
  }

  /**
   * Starts recording into {@code file}, a new file created mode 0600; an existing one is refused.
   *
   * @see #toFile(String, Path, int, Duration, boolean)
   */
  public static TraceRecorder toFile(String device, Path file, int capacity,
      Duration drainInterval) throws IOException {
    return toFile(device, file, capacity, drainInterval, false);
  }

  /**
   * Starts recording into {@code file}: created mode 0600 ({@code O_CREAT|O_EXCL}), or, when
   * {@code replace}, an existing regular file truncated. A symbolic link is never followed
   * ({@code O_EXCL} / {@code O_NOFOLLOW}): a trace written as root must not land where a link
   * planted by someone else points.
   *
   * @throws FileAlreadyExistsException when the file exists and {@code replace} is false
   * @throws FileSystemException when it is a symbolic link or not a regular file
   * @see #TraceRecorder(String, WritableByteChannel, int, Duration)
   */
  public static TraceRecorder toFile(String device, Path file, int capacity,
      Duration drainInterval, boolean replace) throws IOException {
    if (Files.isSymbolicLink(file)) {
      throw new FileSystemException(file.toString(), null,
          "is a symbolic link; a trace is never written through one");
    }
    if (replace && Files.exists(file, LinkOption.NOFOLLOW_LINKS)
        && !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
      throw new FileSystemException(file.toString(), null, "is not a regular file");
    }
    Set<OpenOption> how = replace
        ? Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING, LinkOption.NOFOLLOW_LINKS)
        : Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
            LinkOption.NOFOLLOW_LINKS);
    FileChannel ch = FileChannel.open(file, how,
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try {
      return new TraceRecorder(device, ch, capacity, drainInterval);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  @Override
  public void completed(long startNanos, IoOp op, long sector, long bytes, long latencyNanos,
      IoStatus status) {
    ring.offer(startNanos, sector, latencyNanos,
        TraceRing.kind(op.ordinal(), status.ordinal(), bytes));
  }

  /** Lines written to the file so far, not counting the header. */
  public long recorded() {
    return written;
  }

  /** Records dropped so far: the ring was full, the trace was closing, or the file failed. */
  public long dropped() {
    return ring.dropped() + lost;
  }

  /** Records the ring holds before it drops. */
  public int capacity() {
    return ring.capacity();
  }

  /** Wall-clock time of {@code time_ns} 0. */
  public Instant startedAt() {
    return startedAt;
  }

  /**
   * Writes out what is left and closes the file. Detach the recorder from its device first;
   * records that still arrive are counted as dropped.
   *
   * @throws IOException if writing the file failed at any point (the records since are counted
   *     as dropped)
   */
  @Override
  public void close() throws IOException {
    closing = true;
    LockSupport.unpark(writer);
    boolean interrupted = false;
    while (writer.isAlive()) {
      try {
        writer.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    try {
      out.close();
    } catch (IOException e) {
      if (failure == null) {
        failure = e;
      }
    }
    if (failure != null) {
      throw new IOException(device + ": trace file: " + failure.getMessage(), failure);
    }
  }

  private void run() {
    long reportedDrops = 0;
    long lastWarn = System.nanoTime() - DROP_WARN_NANOS;
    while (!closing) {
      int n = ring.drain(this::append);
      flush();
      long drops = dropped();
      if (drops != reportedDrops && System.nanoTime() - lastWarn >= DROP_WARN_NANOS) {
        LOG.warn("{}: trace buffer of {} records overflowed; {} records dropped so far", device,
            ring.capacity(), drops);
        reportedDrops = drops;
        lastWarn = System.nanoTime();
      }
      if (n == 0) {
        LockSupport.parkNanos(this, drainNanos);
      }
    }
    ring.sealAndDrain(this::append);
    flush();
    LOG.info("{}: trace ended: {} records written, {} dropped", device, written, dropped());
  }

  private void append(long startNanos, long sector, long latencyNanos, long kind) {
    if (failure != null) {
      lostLines++;
      return;
    }
    if (text.length - at < LINE_MAX) {
      flush();
    }
    byte[] b = text;
    int p = putLong(b, at, startNanos - origin);
    b[p++] = ',';
    p = put(b, p, OP_NAMES[(int) (kind >>> 32) & 0xFF]);
    b[p++] = ',';
    p = putLong(b, p, sector);
    b[p++] = ',';
    p = putLong(b, p, kind & 0xFFFF_FFFFL);
    b[p++] = ',';
    p = putLong(b, p, latencyNanos / 1000);
    long frac = Math.abs(latencyNanos % 1000);
    b[p++] = '.';
    b[p++] = (byte) ('0' + frac / 100);
    b[p++] = (byte) ('0' + frac / 10 % 10);
    b[p++] = (byte) ('0' + frac % 10);
    b[p++] = ',';
    p = put(b, p, STATUS_NAMES[(int) (kind >>> 40) & 0xFF]);
    b[p++] = '\n';
    at = p;
    lines++;
  }

  /** Writes the buffered lines; on failure keeps the error and counts them as dropped. */
  private void flush() {
    view.clear().limit(at);
    try {
      while (view.hasRemaining() && failure == null) {
        out.write(view);
      }
    } catch (IOException e) {
      failure = e;
      long pending = 0;
      for (int i = view.position(); i < at; i++) {
        pending += text[i] == '\n' ? 1 : 0;
      }
      lines -= pending;
      lostLines += pending;
      LOG.error("{}: writing the trace failed, later records are dropped: {}", device,
          e.getMessage());
    }
    at = 0;
    written = lines;
    lost = lostLines;
  }

  private static int put(byte[] b, int p, byte[] word) {
    System.arraycopy(word, 0, b, p, word.length);
    return p + word.length;
  }

  /** Writes the digits of {@code v} at {@code p} without making a String; returns the end. */
  private static int putLong(byte[] b, int p, long v) {
    if (v == Long.MIN_VALUE) {
      return put(b, p, MIN_LONG);
    }
    if (v < 0) {
      b[p++] = '-';
      v = -v;
    }
    int digits = 1;
    for (long pow = 10; digits < 19 && pow <= v; pow *= 10) {
      digits++;
    }
    int end = p + digits;
    for (int i = end - 1; i >= p; i--) {
      b[i] = (byte) ('0' + v % 10);
      v /= 10;
    }
    return end;
  }
}
