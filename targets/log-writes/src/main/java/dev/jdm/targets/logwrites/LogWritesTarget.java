package dev.jdm.targets.logwrites;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.EndIoResult;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.RequestData;
import dev.jdm.spi.Scheduler;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code log-writes} target: every request goes to {@code <dev_path>}, and every write, flush,
 * FUA write and discard is also recorded on {@code <log_dev_path>} in the kernel's on-disk format,
 * in the order the data became durable: completed writes are logged at the next flush, before it,
 * and FUA writes as they complete. {@code mark <text>} puts a named entry in the log. Table
 * arguments: {@code <dev_path> <log_dev_path>}. See {@code log-writes.md}.
 *
 * <p>The log: the super block in the first logical block, then one entry after another, each a
 * logical block with its header ({@code sector}, {@code nr_sectors}, {@code flags},
 * {@code data_len}, little-endian 64-bit, in logical blocks of the data device) followed by the
 * data written. A mark's text follows its header in the same block.
 */
public final class LogWritesTarget implements Target {
  private static final Logger LOG = LoggerFactory.getLogger("dev.jdm.targets.log-writes");

  /** Entry flags, as {@code LOG_*_FLAG} in the kernel and in replay-log. */
  static final int FLUSH = 1;
  static final int FUA = 1 << 1;
  static final int DISCARD = 1 << 2;
  static final int MARK = 1 << 3;
  /** "jswfshr" in the super block's first 8 bytes. */
  static final long MAGIC = 0x6a736677736872L;
  static final long VERSION = 1;
  /** Bytes of an entry's header; the rest of its block is zeros, or a mark's text. */
  static final int ENTRY_BYTES = 32;
  private static final String END_MARK = "dm-log-writes-end";

  private final String name;
  private final Scheduler scheduler;
  private final BlockDevice device;
  private final BlockDevice logDevice;
  private final List<BlockDevice> devices;
  private final int blockSize;
  /** 512-byte sectors per logical block. */
  private final int blockSectors;
  private final long logEnd;

  private final Object lock = new Object();
  // Guarded by lock.
  private final List<Block> unflushed = new ArrayList<>();
  private final ArrayDeque<Block> logging = new ArrayDeque<>();
  private long nextSector;
  private long loggedEntries;
  private volatile boolean enabled = true;
  private boolean idle = true;

  // The logger: one step at a time, run by whoever finds work (see kick()).
  private final AtomicInteger wanted = new AtomicInteger();
  private final IoRequest logIo = new IoRequest();
  private volatile boolean busy;
  private volatile boolean failed;
  /** Whether the table went live: a target that never did leaves the log alone when it closes. */
  private volatile boolean live;
  private boolean superWritten;
  private Block job;
  private Step step;

  /** What the logger does next for its current block. */
  private enum Step { FIRST_SUPER, ENTRY, SUPER, LOG_FLUSH, DONE }

  /** One entry on its way to the log: its header fields and the block(s) it will write. */
  private static final class Block {
    final int flags;
    final long sector;
    final long sectors;
    /** Header block plus data, or the header block with a mark's text. */
    final ByteBuffer bytes;
    /** The length of a mark's text; 0 for the others. */
    final int dataLength;
    /** Writes that completed before this flush was issued: logged just before it. */
    List<Block> before = List.of();
    long logSector;
    /** A flush that completes once this entry and those before it are on the log, durably. */
    IoRequest waiting;
    IoStatus waitingStatus;

    /** Lets the flush waiting for this entry go on, with the status its device gave it. */
    void release() {
      IoRequest r = waiting;
      if (r != null) {
        waiting = null;
        r.complete(waitingStatus);
      }
    }

    Block(int flags, long sector, long sectors, ByteBuffer bytes, int dataLength) {
      this.flags = flags;
      this.sector = sector;
      this.sectors = sectors;
      this.bytes = bytes;
      this.dataLength = dataLength;
    }
  }

  /** The block a request will be logged as, from map to end_io: the kernel's per-bio data. */
  private static final class Pending implements RequestData {
    Block block;

    @Override
    public void reset() {
      block = null;
    }
  }

  private LogWritesTarget(String name, Scheduler scheduler, BlockDevice device,
      BlockDevice logDevice) {
    this.name = name;
    this.scheduler = scheduler;
    this.device = device;
    this.logDevice = logDevice;
    this.devices = List.of(device, logDevice);
    this.blockSize = device.limits().logicalBlockSize();
    this.blockSectors = blockSize >>> IoRequest.SECTOR_SHIFT;
    this.logEnd = logDevice.sizeInSectors();
    this.nextSector = blockSectors;
  }

  /** The type registered as {@code log-writes}. */
  public static final class Type implements TargetType {
    @Override
    public String name() {
      return "log-writes";
    }

    @Override
    public Version version() {
      return Version.of(1, 1, 0);
    }

    @Override
    public Set<Feature> features() {
      return Set.of(Feature.END_IO);
    }

    @Override
    public String usage() {
      return "<dev_path> <log_dev_path>";
    }

    @Override
    public Target create(TargetContext context, long lengthInSectors, List<String> args)
        throws TargetException {
      // Words after the two devices are ignored, as the kernel ignores them.
      if (args.size() < 2) {
        throw new TargetException("Invalid argument count");
      }
      DeviceMode mode = context.readOnly() ? DeviceMode.READ_ONLY : DeviceMode.READ_WRITE;
      BlockDevice device = context.openDevice(args.get(0), mode);
      BlockDevice log;
      try {
        log = context.openDevice(args.get(1), mode);
      } catch (TargetException e) {
        throw new TargetException("Log device lookup failed", e);
      }
      if (lengthInSectors > device.sizeInSectors()) {
        throw new TargetException("Device too small");
      }
      return new LogWritesTarget(context.deviceName(), context.scheduler(), device, log);
    }
  }

  @Override
  public RequestData newRequestData() {
    return new Pending();
  }

  @Override
  public MapResult map(IoRequest request) {
    IoOp op = request.op();
    boolean flush = op == IoOp.FLUSH || request.hasFlag(IoRequest.PREFLUSH);
    if (op == IoOp.READ || !enabled || (request.sectors() == 0 && !flush)) {
      return remap(request);
    }
    int flags = (flush ? FLUSH : 0) | (request.hasFlag(IoRequest.FUA) ? FUA : 0)
        | (op == IoOp.DISCARD ? DISCARD : 0);
    long sector = request.sector() / blockSectors;
    long sectors = request.sectors() / blockSectors;
    ByteBuffer bytes;
    if (op == IoOp.WRITE) {
      // The writer's buffer is theirs again once the write completes: log a copy.
      bytes = ByteBuffer.allocate(blockSize + request.bytes());
      bytes.put(blockSize, request.data(), request.dataOffset(), request.bytes());
    } else {
      bytes = ByteBuffer.allocate(blockSize);
    }
    Block block = new Block(flags, sector, sectors, bytes, 0);
    if (flush) {
      synchronized (lock) {
        block.before = new ArrayList<>(unflushed);
        unflushed.clear();
      }
    }
    if (op == IoOp.DISCARD && !device.supports(IoOp.DISCARD)) {
      // Logged like a write that completed at once; the device has nothing to discard.
      synchronized (lock) {
        unflushed.add(block);
      }
      request.complete(IoStatus.OK);
      return MapResult.SUBMITTED;
    }
    request.<Pending>targetData().block = block;
    return remap(request);
  }

  private MapResult remap(IoRequest request) {
    request.remap(device, request.op() == IoOp.FLUSH ? 0 : request.sector());
    return MapResult.REMAPPED;
  }

  /**
   * Queues the request's entry as the kernel does, whether the device took the write or not. A
   * flush is held until the log holds it, durably: then a replay finds every write the flush
   * promised.
   */
  @Override
  public EndIoResult endIo(IoRequest request, IoStatus status) {
    Pending p = request.targetData();
    Block block = p.block;
    if (block == null) {
      return EndIoResult.DONE;
    }
    p.block = null;
    boolean flush = (block.flags & FLUSH) != 0;
    boolean now = flush || (block.flags & FUA) != 0;
    if (flush) {
      block.waiting = request;
      block.waitingStatus = status;
    }
    synchronized (lock) {
      if (flush) {
        logging.addAll(block.before);
        block.before = List.of();
      }
      (now ? logging : unflushed).add(block);
    }
    if (now) {
      kick();
    }
    return flush ? EndIoResult.INCOMPLETE : EndIoResult.DONE;
  }

  @Override
  public String message(List<String> words) throws TargetException {
    if (words.size() != 2) {
      throw new TargetException("Invalid log-writes message arguments, expect 2 arguments, got "
          + words.size());
    }
    if (!words.getFirst().toLowerCase(Locale.ROOT).equals("mark")) {
      throw new TargetException("Unrecognised log writes target message received: "
          + words.getFirst());
    }
    mark(words.get(1));
    return "";
  }

  /** Queues a mark entry: its text, cut to fit its block with a terminating zero. */
  private void mark(String text) {
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    int length = Math.min(utf8.length, blockSize - ENTRY_BYTES - 1);
    ByteBuffer bytes = ByteBuffer.allocate(blockSize);
    bytes.put(ENTRY_BYTES, utf8, 0, length);
    Block block = new Block(MARK, 0, 0, bytes, length);
    synchronized (lock) {
      logging.add(block);
    }
    kick();
  }

  // ---------------------------------------------------------------------------------- the logger

  /**
   * Has the logger run on one of the scheduler's workers, where it may block on the log device
   * (map, end_io and completions never do), unless it runs already: then it only goes round once
   * more. So steps never overlap, and a completion that comes back inside {@code submit} does not
   * recurse.
   */
  private void kick() {
    if (wanted.getAndIncrement() == 0) {
      scheduler.execute(this::drain);
    }
  }

  /** Runs the logger's steps until there is nothing to do or it waits for its log I/O. */
  private void drain() {
    int rounds = 1;
    do {
      while (!busy && step()) {
        // each step either started one log I/O or found the next block
      }
      rounds = wanted.addAndGet(-rounds);
    } while (rounds != 0);
  }

  /** Does the next step; false when there is nothing to log. */
  private boolean step() {
    if (job == null && !nextJob()) {
      return false;
    }
    Block b = job;
    switch (step) {
      case FIRST_SUPER -> {
        superWritten = true;
        step = Step.ENTRY;
        writeLog(superBlock(0), 0);
      }
      case ENTRY -> {
        ByteBuffer h = b.bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        h.putLong(0, b.sector).putLong(8, b.sectors).putLong(16, b.flags)
            .putLong(24, b.dataLength);
        step = (b.flags & (FUA | MARK)) != 0 ? Step.SUPER
            : (b.flags & FLUSH) != 0 ? Step.LOG_FLUSH : Step.DONE;
        writeLog(b.bytes, b.logSector);
      }
      case SUPER -> {
        long entries;
        synchronized (lock) {
          entries = loggedEntries;
        }
        step = (b.flags & FLUSH) != 0 ? Step.LOG_FLUSH : Step.DONE;
        writeLog(superBlock(entries), 0);
      }
      case LOG_FLUSH -> {
        step = Step.DONE;
        busy = true;
        logIo.prepareRange(IoOp.FLUSH, 0, 0, 0, this::logged);
        logDevice.submit(logIo);
      }
      case DONE -> {
        job = null;
        b.release();
      }
    }
    return true;
  }

  /** Takes the next block off the queue and gives it its place in the log. */
  private boolean nextJob() {
    List<Block> dropped = new ArrayList<>();
    try {
      synchronized (lock) {
        for (Block b; (b = logging.poll()) != null; ) {
          if (!enabled) {
            dropped.add(b);
            continue;
          }
          long at = nextSector;
          long end = at + blockSectors
              + ((b.flags & DISCARD) != 0 ? 0 : b.sectors * blockSectors);
          if (end >= logEnd) {
            LOG.error("{}: log-writes: Ran out of space on the logdev", name);
            enabled = false;
            dropped.add(b);
            continue;
          }
          nextSector = end;
          loggedEntries++;
          b.logSector = at;
          job = b;
          step = superWritten ? Step.ENTRY : Step.FIRST_SUPER;
          idle = false;
          return true;
        }
        idle = true;
        lock.notifyAll();
        return false;
      }
    } finally {
      dropped.forEach(Block::release);
    }
  }

  private void writeLog(ByteBuffer bytes, long sector) {
    busy = true;
    logIo.prepare(IoOp.WRITE, 0, sector, bytes.capacity(), bytes, 0, this::logged);
    logDevice.submit(logIo);
  }

  /** A log I/O ended: a failure stops the logging, as in the kernel. */
  private void logged(IoRequest r) {
    if (!r.status().ok()) {
      LOG.error("{}: log-writes: Error writing log block, error={}", name, r.status());
      failed = true;
      synchronized (lock) {
        enabled = false;
      }
      step = Step.DONE;
    }
    busy = false;
    kick();
  }

  private ByteBuffer superBlock(long entries) {
    ByteBuffer b = ByteBuffer.allocate(blockSize).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(0, MAGIC).putLong(8, VERSION).putLong(16, entries).putInt(24, blockSize);
    return b;
  }

  // ----------------------------------------------------------------------------------- lifecycle

  /**
   * Logs what is still unflushed and the end mark, waits for the logger, and flushes the log: the
   * kernel's destructor, which leaves every log with a mark {@code dm-log-writes-end}. A table
   * that never went live (loaded, then cleared or refused) writes nothing: the log device may be
   * the live table's.
   */
  @Override
  public void resume() {
    live = true;
  }

  @Override
  public void close() {
    if (!live) {
      return;
    }
    synchronized (lock) {
      logging.addAll(unflushed);
      unflushed.clear();
    }
    mark(END_MARK);
    boolean interrupted = false;
    synchronized (lock) {
      while (!(idle && logging.isEmpty())) {
        try {
          lock.wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    }
    if (!failed && superWritten) {
      CompletableFuture<IoStatus> done = new CompletableFuture<>();
      logDevice.submit(new IoRequest().prepareRange(IoOp.FLUSH, 0, 0, 0,
          r -> done.complete(r.status())));
      try {
        done.get();
      } catch (InterruptedException e) {
        interrupted = true;
      } catch (ExecutionException e) {
        LOG.error("{}: log-writes: flushing the log failed", name, e);
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public boolean supports(IoOp op) {
    return op != IoOp.WRITE_ZEROES;
  }

  @Override
  public List<BlockDevice> devices() {
    return devices;
  }

  @Override
  public IoLimits limits() {
    return device.limits();
  }

  @Override
  public void blockStatus(long sector, long sectors, ExtentSink sink) {
    device.blockStatus(sector, sectors, sink);
  }

  @Override
  public String status(StatusType type) {
    return switch (type) {
      case INFO -> {
        synchronized (lock) {
          yield loggedEntries + " " + (nextSector - 1) + (enabled ? "" : " logging_disabled");
        }
      }
      case TABLE -> device.path() + " " + logDevice.path();
    };
  }
}
