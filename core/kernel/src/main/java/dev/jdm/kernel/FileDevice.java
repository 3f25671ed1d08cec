package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A regular file or a block device used as a backing device. Reads and writes of direct buffers are
 * {@code pread}/{@code pwrite} calls on the caller's thread, straight into the request's memory:
 * no copy, no lock, no allocation, and unlike a {@link FileChannel} an interrupted caller cannot
 * close the file under everyone else. Heap buffers go through the channel. Discard punches holes,
 * write-zeroes asks the file system to zero, and block status asks for holes.
 */
final class FileDevice implements BlockDevice, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(FileDevice.class);
  private static final int ZERO_CHUNK = 1 << 20;
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(ZERO_CHUNK);

  private final String path;
  private final FileChannel channel;
  private final LinuxFile linux;
  private final Path real;
  private volatile long sectors;
  private final boolean readOnly;

  private FileDevice(String path, Path real, FileChannel channel, LinuxFile linux, long sectors,
      boolean readOnly) {
    this.path = path;
    this.real = real;
    this.channel = channel;
    this.linux = linux;
    this.sectors = sectors;
    this.readOnly = readOnly;
  }

  /** Opens {@code file} read-write when allowed and {@code writable}, else read-only. */
  static FileDevice open(String path, Path file, boolean writable) throws IOException {
    Path real = file.toRealPath();
    boolean rw = writable && Files.isWritable(real);
    FileChannel ch = rw
        ? FileChannel.open(real, StandardOpenOption.READ, StandardOpenOption.WRITE)
        : FileChannel.open(real, StandardOpenOption.READ);
    try {
      long bytes = bytes(real, ch);
      LinuxFile lf = new LinuxFile(real.toString(), rw);
      return new FileDevice(path, real, ch, lf, bytes >>> IoRequest.SECTOR_SHIFT, !rw);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private static long bytes(Path real, FileChannel ch) throws IOException {
    return Files.isRegularFile(real) ? ch.size() : blockDeviceBytes(real);
  }

  /**
   * Reads the size again: a file or loop device may have grown (or shrunk) since it was opened.
   * Called when a table that uses it is built, as the kernel sees a block device's current size.
   */
  void refreshSize() throws IOException {
    long now = bytes(real, channel) >>> IoRequest.SECTOR_SHIFT;
    if (now != sectors) {
      LOG.info("{}: size changed from {} to {} sectors", path, sectors, now);
      sectors = now;
    }
  }

  /** A block device's size from sysfs; FileChannel.size() says 0 for them. */
  private static long blockDeviceBytes(Path dev) throws IOException {
    Path size = Path.of("/sys/class/block", dev.getFileName().toString(), "size");
    if (!Files.exists(size)) {
      throw new IOException(dev + ": neither a regular file nor a block device");
    }
    return Long.parseLong(Files.readString(size).trim()) << IoRequest.SECTOR_SHIFT;
  }

  @Override
  public String path() {
    return path;
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

  @Override
  public void submit(IoRequest r) {
    IoStatus status;
    try {
      long pos = r.sector() << IoRequest.SECTOR_SHIFT;
      switch (r.op()) {
        case READ -> read(r.data(), r.dataOffset(), r.bytes(), pos);
        case WRITE -> {
          if (r.hasFlag(IoRequest.PREFLUSH)) {
            sync();
          }
          write(r.data(), r.dataOffset(), r.bytes(), pos);
          if (r.hasFlag(IoRequest.FUA)) {
            sync();
          }
        }
        case FLUSH -> sync();
        case DISCARD -> discard(pos, r.length());
        case WRITE_ZEROES -> zero(pos, r.length(), r.hasFlag(IoRequest.NO_UNMAP));
      }
      status = IoStatus.OK;
    } catch (LinuxFile.ErrnoException e) {
      status = e.errno == LinuxFile.ENOSPC || e.errno == LinuxFile.EDQUOT
          ? IoStatus.ENOSPC : IoStatus.EIO;
      LOG.warn("{}: {} failed: {}", path, r, e.getMessage());
    } catch (IOException e) {
      LOG.warn("{}: {} failed: {}", path, r, e.toString());
      status = IoStatus.EIO;
    }
    r.complete(status);
  }

  private void sync() throws IOException {
    linux.fdatasync();
  }

  private void read(ByteBuffer b, int off, int len, long pos) throws IOException {
    if (b.isDirect()) {
      long at = BufferAddresses.base(b) + off;
      long done = 0;
      while (done < len) {
        long n = linux.pread(at + done, len - done, pos + done);
        if (n < 0) {
          n = linux.retry(false, at + done, len - done, pos + done);
          if (n < 0) {
            throw new LinuxFile.ErrnoException("pread at byte " + (pos + done), (int) -n);
          }
        }
        if (n == 0) {
          throw shorter(pos + done);
        }
        done += n;
      }
      Reference.reachabilityFence(b);
      return;
    }
    b.limit(b.capacity()).position(off).limit(off + len);
    while (b.hasRemaining()) {
      if (channel.read(b, pos + (b.position() - off)) < 0) {
        throw shorter(pos + (b.position() - off));
      }
    }
  }

  /**
   * A read reached the end of the file inside the device: the file was truncated under the table.
   * Zeros there would be a silent lie about data that is gone.
   */
  private IOException shorter(long at) {
    return new IOException("read past the end of the file at byte " + at
        + ": it is shorter than the table says (truncated?)");
  }

  private void write(ByteBuffer b, int off, int len, long pos) throws IOException {
    if (b.isDirect()) {
      long at = BufferAddresses.base(b) + off;
      long done = 0;
      while (done < len) {
        long n = linux.pwrite(at + done, len - done, pos + done);
        if (n <= 0) {
          n = linux.retry(true, at + done, len - done, pos + done);
          if (n < 0) {
            throw new LinuxFile.ErrnoException("pwrite at byte " + (pos + done), (int) -n);
          }
          if (n == 0) {
            throw new IOException("pwrite wrote nothing at byte " + (pos + done));
          }
        }
        done += n;
      }
      Reference.reachabilityFence(b);
      return;
    }
    b.limit(b.capacity()).position(off).limit(off + len);
    while (b.hasRemaining()) {
      channel.write(b, pos + (b.position() - off));
    }
  }

  private void discard(long pos, long len) throws IOException {
    try {
      linux.fallocate(LinuxFile.FALLOC_FL_PUNCH_HOLE | LinuxFile.FALLOC_FL_KEEP_SIZE, pos, len);
    } catch (LinuxFile.ErrnoException e) {
      // Discard is advice: a file system that cannot punch holes keeps the data.
      if (e.errno != LinuxFile.EOPNOTSUPP) {
        throw e;
      }
    }
  }

  private void zero(long pos, long len, boolean keepAllocated) throws IOException {
    int mode = keepAllocated
        ? LinuxFile.FALLOC_FL_ZERO_RANGE | LinuxFile.FALLOC_FL_KEEP_SIZE
        : LinuxFile.FALLOC_FL_PUNCH_HOLE | LinuxFile.FALLOC_FL_KEEP_SIZE;
    try {
      linux.fallocate(mode, pos, len);
      return;
    } catch (LinuxFile.ErrnoException e) {
      if (e.errno != LinuxFile.EOPNOTSUPP) {
        throw e;
      }
    }
    for (long done = 0; done < len; done += ZERO_CHUNK) {
      write(ZEROS, 0, (int) Math.min(ZERO_CHUNK, len - done), pos + done);
    }
  }

  @Override
  public void blockStatus(long sector, long count, ExtentSink sink) {
    long pos = sector << IoRequest.SECTOR_SHIFT;
    long end = (sector + count) << IoRequest.SECTOR_SHIFT;
    try {
      while (pos < end) {
        long data = linux.nextData(pos);
        if (data < 0 || data >= end) {
          sink.extent((end - pos) >>> IoRequest.SECTOR_SHIFT, ExtentSink.HOLE | ExtentSink.ZERO);
          return;
        }
        data = data & ~(IoRequest.SECTOR_SIZE - 1L);
        if (data > pos) {
          if (!sink.extent((data - pos) >>> IoRequest.SECTOR_SHIFT,
              ExtentSink.HOLE | ExtentSink.ZERO)) {
            return;
          }
          pos = data;
        }
        long hole = Math.min(end, roundUp(linux.nextHole(pos)));
        if (hole <= pos) {
          hole = end;
        }
        if (!sink.extent((hole - pos) >>> IoRequest.SECTOR_SHIFT, 0)) {
          return;
        }
        pos = hole;
      }
    } catch (IOException e) {
      LOG.debug("{}: cannot tell holes: {}", path, e.toString());
      // A file system that cannot tell holes: all of it is data.
      if (pos < end) {
        sink.extent((end - pos) >>> IoRequest.SECTOR_SHIFT, 0);
      }
    }
  }

  private static long roundUp(long bytes) {
    return (bytes + IoRequest.SECTOR_SIZE - 1) & ~(IoRequest.SECTOR_SIZE - 1L);
  }

  @Override
  public void close() {
    linux.close();
    try {
      channel.close();
    } catch (IOException e) {
      LOG.warn("{}: close failed: {}", path, e.toString());
    }
  }

  @Override
  public String toString() {
    return path;
  }
}
