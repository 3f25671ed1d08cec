package dev.jdm.testkit;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A block device held in memory, for testing targets through the SPI alone (with
 * {@link TestTargetContext} and {@link TargetHarness}). Sized and addressed in 512-byte sectors as
 * every device is; it does every op, counts flushes, completes each request on the caller's thread,
 * and fails a request outside it with EIO.
 */
public final class MemoryDevice implements BlockDevice {
  private final String path;
  private final ByteBuffer bytes;
  private final boolean readOnly;
  private final AtomicInteger flushes = new AtomicInteger();

  /** A zero-filled device of {@code sectors} sectors. */
  public MemoryDevice(String path, long sectors) {
    this(path, sectors, false);
  }

  /** A zero-filled device, read-only if asked. */
  public MemoryDevice(String path, long sectors, boolean readOnly) {
    this.path = path;
    this.bytes = ByteBuffer.allocate(Math.toIntExact(sectors << IoRequest.SECTOR_SHIFT));
    this.readOnly = readOnly;
  }

  @Override
  public String path() {
    return path;
  }

  @Override
  public long sizeInSectors() {
    return bytes.capacity() >>> IoRequest.SECTOR_SHIFT;
  }

  @Override
  public boolean readOnly() {
    return readOnly;
  }

  @Override
  public boolean supports(IoOp op) {
    return true;
  }

  /** How many FLUSH requests reached this device. */
  public int flushes() {
    return flushes.get();
  }

  /** A copy of {@code count} sectors from {@code sector}, to check what a target wrote. */
  public byte[] sectors(long sector, int count) {
    return contents(sector << IoRequest.SECTOR_SHIFT, count << IoRequest.SECTOR_SHIFT);
  }

  /** Stores {@code data} (whole sectors) from {@code sector}, to set up what a target reads. */
  public synchronized void put(long sector, byte[] data) {
    bytes.put(Math.toIntExact(sector << IoRequest.SECTOR_SHIFT), data);
  }

  /** A copy of {@code length} bytes from byte {@code offset}, to check what targets wrote. */
  public synchronized byte[] contents(long offset, int length) {
    byte[] out = new byte[length];
    bytes.get(Math.toIntExact(offset), out);
    return out;
  }

  @Override
  public void submit(IoRequest r) {
    int pos = Math.toIntExact(r.sector() << IoRequest.SECTOR_SHIFT);
    if (r.op() != IoOp.FLUSH && (r.sector() < 0 || r.sector() + r.sectors() > sizeInSectors())) {
      r.complete(IoStatus.EIO);
      return;
    }
    if (readOnly && r.op().changesData()) {
      r.complete(IoStatus.EPERM);
      return;
    }
    synchronized (this) {
      switch (r.op()) {
        case READ -> r.data().put(r.dataOffset(), bytes, pos, r.bytes());
        case WRITE -> bytes.put(pos, r.data(), r.dataOffset(), r.bytes());
        case DISCARD, WRITE_ZEROES -> bytes.put(pos, new byte[r.bytes()]);
        case FLUSH -> flushes.incrementAndGet();
      }
    }
    r.complete(IoStatus.OK);
  }

  @Override
  public String toString() {
    return path;
  }
}
