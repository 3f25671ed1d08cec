package dev.jdm.kernel;

import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes that do not cover whole sectors, for frontends whose clients address bytes (FUSE's
 * write(2), NBD clients that agreed on no block size): the edge sectors are read, the new bytes
 * merged in, and the whole sectors written back. Two such writes sharing a sector would lose each
 * other's bytes, so each holds the locks of its edge sectors meanwhile; the locks are the same for
 * every frontend. Aligned I/O takes no lock.
 */
public final class PartialWrites {
  private static final int SECTOR = IoRequest.SECTOR_SIZE;
  private static final ReentrantLock[] LOCKS = new ReentrantLock[256];

  static {
    for (int i = 0; i < LOCKS.length; i++) {
      LOCKS[i] = new ReentrantLock();
    }
  }

  private PartialWrites() {}

  /**
   * Writes {@code length} bytes at byte {@code offset} of {@code device}: from {@code src} at
   * {@code srcOffset}, or zeros when {@code src} is null. The whole sectors around them are read
   * into and written from {@code scratch} at {@code scratchOffset}, which needs room for
   * {@link #span} bytes; {@code src} may lie in the same buffer, outside that room.
   *
   * @param flags request flags for the write ({@link IoRequest#FUA})
   */
  public static IoStatus write(SyncIo io, MappedDevice device, long offset, int length,
      ByteBuffer src, int srcOffset, ByteBuffer scratch, int scratchOffset, int flags) {
    long first = offset & -SECTOR;
    int head = (int) (offset - first);
    int span = span(offset, length);
    long firstSector = first >>> IoRequest.SECTOR_SHIFT;
    long lastSector = firstSector + span / SECTOR - 1;
    IoStatus bad = device.check(IoOp.WRITE, firstSector, span);
    if (!bad.ok()) {
      return bad;
    }
    int i = lockIndex(device, firstSector);
    int j = lockIndex(device, lastSector);
    ReentrantLock a = LOCKS[Math.min(i, j)];
    ReentrantLock b = LOCKS[Math.max(i, j)];
    a.lock();
    b.lock();
    try {
      IoStatus s = IoStatus.OK;
      if (head != 0) {
        s = io.run(device, IoOp.READ, 0, firstSector, SECTOR, scratch, scratchOffset);
      }
      boolean tailPartial = (head + length) % SECTOR != 0;
      if (s.ok() && tailPartial && (head == 0 || lastSector != firstSector)) {
        s = io.run(device, IoOp.READ, 0, lastSector, SECTOR, scratch,
            scratchOffset + span - SECTOR);
      }
      if (!s.ok()) {
        return s;
      }
      // A device may have left the limit short; absolute puts check against it.
      scratch.limit(scratch.capacity());
      if (src == null) {
        for (int at = scratchOffset + head; at < scratchOffset + head + length; at++) {
          scratch.put(at, (byte) 0);
        }
      } else {
        scratch.put(scratchOffset + head, src, srcOffset, length);
      }
      return io.run(device, IoOp.WRITE, flags, firstSector, span, scratch, scratchOffset);
    } finally {
      b.unlock();
      a.unlock();
    }
  }

  /** Bytes of the whole sectors around {@code length} bytes at {@code offset}. */
  public static int span(long offset, int length) {
    long first = offset & -SECTOR;
    return (int) (((offset - first) + length + SECTOR - 1) & -SECTOR);
  }

  /** The lock of a sector: one of a fixed few, taken in index order so two never deadlock. */
  private static int lockIndex(MappedDevice device, long sector) {
    int h = System.identityHashCode(device) * 31 + Long.hashCode(sector);
    return (h ^ (h >>> 16)) & (LOCKS.length - 1);
  }
}
