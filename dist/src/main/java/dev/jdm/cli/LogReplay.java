package dev.jdm.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A log of the {@code log-writes} target (the kernel's dm-log-writes format) read entry by entry
 * from its start, each entry applied to a device as it is read: what {@code replay-log} does. The
 * log and the device are regular files or block devices.
 */
final class LogReplay implements AutoCloseable {
  static final long FLUSH = 1;
  static final long FUA = 1 << 1;
  static final long DISCARD = 1 << 2;
  static final long MARK = 1 << 3;
  private static final long MAGIC = 0x6a736677736872L;
  private static final long VERSION = 1;
  private static final int ENTRY_BYTES = 32;
  private static final int ZERO_CHUNK = 1 << 20;

  /** One entry as read: {@code index} from 0, its header, and a mark's text (else null). */
  record Entry(long index, long sector, long sectors, long flags, String mark) {
    boolean has(long flag) {
      return (flags & flag) != 0;
    }

    /** The flags by name, as replay-log prints them. */
    String flagNames() {
      StringBuilder s = new StringBuilder();
      String[] names = {"FLUSH", "FUA", "DISCARD", "MARK"};
      for (int i = 0; i < names.length; i++) {
        if ((flags & (1L << i)) != 0) {
          s.append(s.isEmpty() ? "" : "|").append(names[i]);
        }
      }
      return s.isEmpty() ? "NONE" : s.toString();
    }
  }

  private final Path path;
  private final FileChannel log;
  private final FileChannel device;
  private final int blockSize;
  private final long entries;
  private final ByteBuffer header;
  private long position;
  private long next;

  private LogReplay(Path path, FileChannel log, FileChannel device) throws IOException {
    this.path = path;
    this.log = log;
    this.device = device;
    ByteBuffer s = ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN);
    readFully(s, 0);
    if (s.getLong(0) != MAGIC) {
      throw new IOException(path + ": not a log-writes log (magic doesn't match)");
    }
    if (s.getLong(8) != VERSION) {
      throw new IOException(path + ": log version " + s.getLong(8) + ", wanted " + VERSION);
    }
    this.entries = s.getLong(16);
    this.blockSize = s.getInt(24);
    if (blockSize < ENTRY_BYTES + 1 || Integer.bitCount(blockSize) != 1) {
      throw new IOException(path + ": bad sector size " + blockSize + " in the super block");
    }
    this.header = ByteBuffer.allocate(blockSize).order(ByteOrder.LITTLE_ENDIAN);
    this.position = blockSize;
  }

  /** Opens {@code log} to read, and {@code device} to write entries onto (null: headers only). */
  static LogReplay open(Path log, Path device) throws IOException {
    FileChannel l = FileChannel.open(log, StandardOpenOption.READ);
    try {
      FileChannel d = device == null ? null : FileChannel.open(device, StandardOpenOption.WRITE);
      try {
        return new LogReplay(log, l, d);
      } catch (IOException | RuntimeException e) {
        if (d != null) {
          d.close();
        }
        throw e;
      }
    } catch (IOException | RuntimeException e) {
      l.close();
      throw e;
    }
  }

  /** How many entries the super block counts. */
  long entries() {
    return entries;
  }

  /** The logical block size of the log, in bytes. */
  int blockSize() {
    return blockSize;
  }

  /** Reads the next {@code n} entries without applying them. */
  void skip(long n) throws IOException {
    for (long i = 0; i < n && read(false) != null; i++) {
      // skipped
    }
  }

  /** Reads the next entry and, with a device, applies it; null after the last. */
  Entry next() throws IOException {
    return read(device != null);
  }

  private Entry read(boolean apply) throws IOException {
    if (next >= entries) {
      return null;
    }
    header.clear();
    readFully(header, position);
    long sector = header.getLong(0);
    long sectors = header.getLong(8);
    long flags = header.getLong(16);
    long dataLen = header.getLong(24);
    String mark = null;
    if ((flags & MARK) != 0) {
      int n = (int) Math.min(Math.max(dataLen, 0), blockSize - ENTRY_BYTES);
      mark = new String(header.array(), ENTRY_BYTES, n, StandardCharsets.UTF_8);
    }
    position += blockSize;
    long bytes = Math.multiplyExact(sectors, blockSize);
    long at = Math.multiplyExact(sector, blockSize);
    if ((flags & DISCARD) != 0) {
      if (apply) {
        zero(at, bytes);
      }
    } else {
      if (apply && bytes > 0) {
        copy(position, at, bytes);
      }
      position += bytes;
    }
    return new Entry(next++, sector, sectors, flags, mark);
  }

  /** Makes what was written so far durable on the device. */
  void sync() throws IOException {
    device.force(false);
  }

  private void copy(long from, long to, long bytes) throws IOException {
    long done = 0;
    while (done < bytes) {
      long n = log.transferTo(from + done, bytes - done, device.position(to + done));
      if (n <= 0) {
        throw new IOException(path + ": the log ends inside entry " + next);
      }
      done += n;
    }
  }

  /** A discard: the range reads as zeros afterwards. */
  private void zero(long at, long bytes) throws IOException {
    ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(ZERO_CHUNK, bytes));
    for (long done = 0; done < bytes; ) {
      zeros.clear().limit((int) Math.min(zeros.capacity(), bytes - done));
      while (zeros.hasRemaining()) {
        done += device.write(zeros, at + done);
      }
    }
  }

  private void readFully(ByteBuffer b, long at) throws IOException {
    while (b.hasRemaining()) {
      if (log.read(b, at + b.position()) < 0) {
        throw new IOException(path + ": the log ends inside entry " + next);
      }
    }
  }

  @Override
  public void close() throws IOException {
    try (log) {
      if (device != null) {
        device.close();
      }
    }
  }
}
