package dev.jdm.targets.snapshot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The kernel's persistent snapshot COW layout, read and written from its description alone (the
 * comments and structs of {@code drivers/md/dm-snap-persistent.c}), to check jdm's store against:
 * it shares no code with {@link PersistentStore}.
 *
 * <pre>
 * chunk 0         struct disk_header { le32 magic = 0x70416e53; le32 valid; le32 version = 1;
 *                                      le32 chunk_size (sectors); }, rest zero
 * chunk 1         metadata area 0: struct disk_exception { le64 old_chunk; le64 new_chunk; }
 *                 [chunk_size * 512 / 16]; the list ends at the first new_chunk == 0
 * chunks 2..E+1   data chunks, E = exceptions per area
 * chunk E+2       metadata area 1, then its E data chunks, and so on
 * </pre>
 */
final class KernelCow {
  static final int SNAP_MAGIC = 0x70416e53;

  record Header(int magic, int valid, int version, int chunkSize) {}

  record Exception(long oldChunk, long newChunk) {}

  private KernelCow() {}

  static Header header(byte[] cow) {
    ByteBuffer b = ByteBuffer.wrap(cow).order(ByteOrder.LITTLE_ENDIAN);
    return new Header(b.getInt(0), b.getInt(4), b.getInt(8), b.getInt(12));
  }

  /** Every exception of a valid COW image, area by area, as the kernel reads them back. */
  static List<Exception> exceptions(byte[] cow) {
    Header h = header(cow);
    int chunkBytes = h.chunkSize() * 512;
    int perArea = chunkBytes / 16;
    ByteBuffer b = ByteBuffer.wrap(cow).order(ByteOrder.LITTLE_ENDIAN);
    List<Exception> out = new ArrayList<>();
    for (long area = 0; ; area++) {
      long areaChunk = 1 + area * (perArea + 1);
      if ((areaChunk + 1) * chunkBytes > cow.length) {
        return out;
      }
      for (int i = 0; i < perArea; i++) {
        int at = Math.toIntExact(areaChunk * chunkBytes + i * 16L);
        long newChunk = b.getLong(at + 8);
        if (newChunk == 0) {
          return out;
        }
        out.add(new Exception(b.getLong(at), newChunk));
      }
    }
  }

  /** The chunk a metadata area sits in. */
  static long areaChunk(int chunkSectors, long area) {
    long perArea = chunkSectors * 512L / 16;
    return 1 + area * (perArea + 1);
  }

  /**
   * A valid COW image of {@code cowBytes} holding {@code data.size()} exceptions: exception
   * {@code i} maps {@code oldChunks.get(i)} to the i-th data chunk (skipping metadata areas), which
   * holds {@code data.get(i)}.
   */
  static byte[] image(int chunkSectors, int cowBytes, List<Long> oldChunks, List<byte[]> data) {
    int chunkBytes = chunkSectors * 512;
    long perArea = chunkBytes / 16;
    byte[] cow = new byte[cowBytes];
    ByteBuffer b = ByteBuffer.wrap(cow).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(0, SNAP_MAGIC).putInt(4, 1).putInt(8, 1).putInt(12, chunkSectors);
    for (int i = 0; i < oldChunks.size(); i++) {
      long area = i / perArea;
      long slot = i % perArea;
      long newChunk = areaChunk(chunkSectors, area) + 1 + slot;
      int at = Math.toIntExact(areaChunk(chunkSectors, area) * chunkBytes + slot * 16);
      b.putLong(at, oldChunks.get(i)).putLong(at + 8, newChunk);
      System.arraycopy(data.get(i), 0, cow, Math.toIntExact(newChunk * chunkBytes), chunkBytes);
    }
    return cow;
  }
}
