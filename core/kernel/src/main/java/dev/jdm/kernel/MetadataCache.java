package dev.jdm.kernel;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.MetadataBlocks;
import dev.jdm.spi.Region;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fixed-size blocks of a metadata area through a bounded LRU cache, the kernel's {@code dm-bufio},
 * with the commit order of {@code dm-transaction-manager}: every dirty block but the commit block,
 * FLUSH, the commit block, FLUSH. Dirty blocks are written only by a commit, never on eviction, so
 * the device holds nothing newer than the last commit block points at until the next commit; the
 * cache may grow past its bound while more blocks than that are dirty.
 *
 * <p>A block's buffer is never reused for another block: a caller holding a buffer of a block that
 * was evicted still sees that block's old contents. Blocking I/O through {@link RegionIo#run}; one
 * thread at a time.
 */
final class MetadataCache implements MetadataBlocks {
  private static final Logger LOG = LoggerFactory.getLogger(MetadataCache.class);
  private static final int CRC_BYTES = 4;

  private final String owner;
  private final BlockDevice device;
  private final long firstSector;
  private final int blockSize;
  private final int blockSectors;
  private final long blockCount;
  private final boolean checksums;
  private final int capacity;
  private final RegionIo io;
  private final Region[] region = {new Region()};
  private final CRC32C crc = new CRC32C();
  /** Blocks in access order, least recently used first. */
  private final LinkedHashMap<Long, Block> cache = new LinkedHashMap<>(16, 0.75f, true);

  private static final class Block {
    final ByteBuffer data;
    boolean dirty;

    Block(ByteBuffer data) {
      this.data = data;
    }
  }

  /** The caller has checked the block size and that the area holds a block. */
  MetadataCache(String owner, BlockDevice device, long offsetSectors, int blockSize,
      boolean checksums, int capacity, RegionIo io) {
    this.owner = owner;
    this.device = device;
    this.firstSector = offsetSectors;
    this.blockSize = blockSize;
    this.blockSectors = blockSize >>> IoRequest.SECTOR_SHIFT;
    this.blockCount = (device.sizeInSectors() - offsetSectors) / blockSectors;
    this.checksums = checksums;
    this.capacity = capacity;
    this.io = io;
  }

  /** Whether {@code size} is a block size the cache takes: a power of two from 512 to 1 MiB. */
  static boolean validBlockSize(int size) {
    return size >= IoRequest.SECTOR_SIZE && size <= (1 << 20) && Integer.bitCount(size) == 1;
  }

  @Override
  public int blockSize() {
    return blockSize;
  }

  @Override
  public long blockCount() {
    return blockCount;
  }

  @Override
  public synchronized ByteBuffer read(long block) throws IOException {
    check(block);
    Block b = cache.get(block);
    if (b != null) {
      return b.data.clear();
    }
    ByteBuffer data = ByteBuffer.allocateDirect(blockSize);
    if (transfer(IoOp.READ, block, data) != 0) {
      throw new IOException(name(block) + ": read failed");
    }
    if (checksums && stored(data) != checksum(data)) {
      throw new IOException(name(block) + ": checksum mismatch");
    }
    add(block, new Block(data));
    return data;
  }

  @Override
  public synchronized ByteBuffer zeroed(long block) {
    check(block);
    Block b = cache.get(block);
    if (b == null) {
      b = new Block(ByteBuffer.allocateDirect(blockSize));
      add(block, b);
    } else {
      ByteBuffer d = b.data.clear();
      for (int i = 0; i < blockSize; i += 8) {
        d.putLong(i, 0L);
      }
    }
    b.dirty = true;
    return b.data;
  }

  @Override
  public synchronized void markDirty(long block) {
    check(block);
    Block b = cache.get(block);
    if (b == null) {
      throw new IllegalStateException(name(block) + ": not in the cache (evicted since it was"
          + " read): read it again before changing it");
    }
    b.dirty = true;
  }

  @Override
  public synchronized void commit(long commitBlock) throws IOException {
    Block c = null;
    if (commitBlock != -1) {
      check(commitBlock);
      c = cache.get(commitBlock);
      if (c == null) {
        throw new IllegalStateException(name(commitBlock) + ": the commit block is not in the"
            + " cache: read or zero it and change it before committing");
      }
    }
    List<Map.Entry<Long, Block>> dirty = new ArrayList<>();
    for (Map.Entry<Long, Block> e : cache.entrySet()) {
      if (e.getValue().dirty && e.getKey() != commitBlock) {
        dirty.add(e);
      }
    }
    dirty.sort(Map.Entry.comparingByKey());
    for (Map.Entry<Long, Block> e : dirty) {
      write(e.getKey(), e.getValue());
    }
    flush();
    if (c != null) {
      write(commitBlock, c);
      flush();
    }
    evict();
  }

  private void write(long block, Block b) throws IOException {
    if (checksums) {
      int sum = checksum(b.data);
      int at = blockSize - CRC_BYTES;
      for (int i = 0; i < CRC_BYTES; i++) {
        b.data.put(at + i, (byte) (sum >>> (8 * i)));
      }
    }
    if (transfer(IoOp.WRITE, block, b.data) != 0) {
      throw new IOException(name(block) + ": write failed");
    }
    b.dirty = false;
  }

  private void flush() throws IOException {
    region[0].set(device, 0, 0);
    if (run(IoOp.FLUSH, null) != 0) {
      throw new IOException(owner + ": metadata: flush of " + device.path() + " failed");
    }
  }

  private long transfer(IoOp op, long block, ByteBuffer data) throws IOException {
    region[0].set(device, firstSector + block * blockSectors, blockSectors);
    return run(op, data);
  }

  private long run(IoOp op, ByteBuffer data) throws IOException {
    try {
      return io.run(op, 0, region, 1, data, 0);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException(owner + ": metadata: interrupted");
    }
  }

  /** CRC-32C of all but the block's last 4 bytes. */
  private int checksum(ByteBuffer data) {
    crc.reset();
    crc.update(data.clear().limit(blockSize - CRC_BYTES));
    data.clear();
    return (int) crc.getValue();
  }

  /** The checksum stored in the block's last 4 bytes, little endian. */
  private int stored(ByteBuffer data) {
    int at = blockSize - CRC_BYTES;
    int v = 0;
    for (int i = 0; i < CRC_BYTES; i++) {
      v |= (data.get(at + i) & 0xff) << (8 * i);
    }
    return v;
  }

  private void add(long block, Block b) {
    cache.put(block, b);
    evict();
  }

  /** Drops least recently used clean blocks while the cache is over its bound. */
  private void evict() {
    int over = cache.size() - capacity;
    for (Iterator<Block> it = cache.values().iterator(); over > 0 && it.hasNext(); ) {
      if (!it.next().dirty) {
        it.remove();
        over--;
      }
    }
  }

  private void check(long block) {
    if (block < 0 || block >= blockCount) {
      throw new IllegalArgumentException(name(block) + ": outside the area's " + blockCount
          + " blocks");
    }
  }

  private String name(long block) {
    return owner + ": metadata block " + block;
  }

  /** How many blocks are changed and not yet committed. */
  synchronized int dirtyBlocks() {
    int n = 0;
    for (Block b : cache.values()) {
      n += b.dirty ? 1 : 0;
    }
    return n;
  }

  @Override
  public synchronized void close() {
    cache.values().removeIf(b -> !b.dirty);
    if (!cache.isEmpty()) {
      LOG.debug("{}: metadata on {}: {} changed block(s) not committed", owner, device.path(),
          cache.size());
    }
  }
}
