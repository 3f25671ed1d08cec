package dev.jdm.targets.snapshot;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.MetadataBlocks;
import dev.jdm.spi.TargetException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code P} and {@code PO} store, the kernel's {@code dm-snap-persistent.c}, byte for byte on
 * the COW device. Chunk 0 holds the header (little endian {@code u32} magic {@code 0x70416e53}
 * "SnAp", valid, version 1, chunk size in sectors). Then come metadata areas, each one chunk of
 * (old_chunk, new_chunk) little-endian {@code u64} pairs, each followed by the data chunks its pairs
 * point to: area {@code a} is chunk {@code 1 + a * (pairs_per_area + 1)}. A pair with new_chunk 0
 * ends the list.
 *
 * <p>Commits follow the kernel's order: when an area fills, the next one is zeroed first; the area
 * is written after a flush (so the copied chunks it points to are durable first) and flushed again,
 * its {@code REQ_PREFLUSH | REQ_FUA}. Exceptions are committed in the order their chunks were
 * allocated. Where the kernel waits for every exception in flight to finish before it writes the
 * area, this store writes whatever has arrived each time its worker runs (a group commit), so a
 * steady stream of copies never waits for the area to fill.
 */
final class PersistentStore implements ExceptionStore {
  /** "SnAp", the header's first word. */
  static final int MAGIC = 0x70416e53;
  /** The only on-disk version there is. */
  static final int VERSION = 1;
  /** The chunk size when the table says 0 and the COW device holds no header: 16 KiB. */
  static final long DEFAULT_CHUNK_SECTORS = 32;
  /** Bytes of one (old_chunk, new_chunk) pair. */
  static final int PAIR_BYTES = 16;

  /** One exception waiting for the worker, or a request to mark the store invalid. */
  private record Pending(long oldChunk, long newChunk, boolean valid, Committed done) {}

  private static final Pending DROP = new Pending(-1, -1, false, null);

  private final BlockDevice cow;
  private final long tableChunkSize;
  private final Host host;

  // Settled by read(); fixed afterwards.
  private long chunkSize;
  private int chunkBytes;
  private int pairsPerArea;
  private ByteBuffer area;

  /** Guards the metadata: area, currentArea, committed, valid. Held across metadata I/O. */
  private final Object io = new Object();
  private volatile long currentArea;
  private int committed;
  private boolean valid = true;

  /** Guarded by this: the next free chunk (the data path allocates from it). */
  private long nextFree = 2;

  /** Guarded by queue. */
  private final ArrayDeque<Pending> queue = new ArrayDeque<>();
  private boolean scheduled;

  /**
   * @param tableChunkSize the table's chunk size in sectors, 0 to take the header's
   * @param host where commits run
   */
  PersistentStore(BlockDevice cow, long tableChunkSize, Host host) {
    this.cow = cow;
    this.tableChunkSize = tableChunkSize;
    this.host = host;
  }

  @Override
  public long chunkSize() {
    return chunkSize;
  }

  @Override
  public boolean read(Opener opener, Loaded loaded) throws IOException, TargetException {
    long size = tableChunkSize == 0 ? DEFAULT_CHUNK_SECTORS : tableChunkSize;
    MetadataBlocks m = opener.open(bytes(size));
    ByteBuffer header = le(m.read(0));
    int magic = header.getInt(0);
    if (magic == 0) {
      settle(size);
      synchronized (io) {
        writeHeader(m, true);
        m.zeroed(areaLocation(0));
        m.commit(0);
      }
      return true;
    }
    if (magic != MAGIC) {
      throw new IOException("Invalid or corrupt snapshot");
    }
    boolean headerValid = header.getInt(4) != 0;
    int version = header.getInt(8);
    long onDisk = Integer.toUnsignedLong(header.getInt(12));
    if (onDisk != size) {
      String problem = ExceptionStore.chunkSizeProblem(onDisk, 1);
      if (problem != null) {
        throw new IOException("invalid on-disk chunk size " + onDisk + ": " + problem);
      }
      m = opener.open(bytes(onDisk));
    }
    settle(onDisk);
    if (version != VERSION) {
      throw new IOException("unable to handle snapshot disk version " + version);
    }
    if (!headerValid) {
      synchronized (io) {
        valid = false;
      }
      return false;
    }
    readAreas(m, loaded);
    return true;
  }

  private void settle(long sectors) {
    chunkSize = sectors;
    chunkBytes = bytes(sectors);
    pairsPerArea = chunkBytes / PAIR_BYTES;
    area = ByteBuffer.allocate(chunkBytes).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Reads areas until one is not full, as the kernel's {@code read_exceptions}. */
  private void readAreas(MetadataBlocks m, Loaded loaded) throws IOException {
    long highest = 1;
    synchronized (io) {
      for (long a = 0; ; a++) {
        ByteBuffer b = le(readBlock(m, areaLocation(a)));
        int i = 0;
        for (; i < pairsPerArea; i++) {
          long newChunk = b.getLong(i * PAIR_BYTES + 8);
          if (newChunk == 0) {
            break;
          }
          highest = Math.max(highest, newChunk);
          loaded.add(b.getLong(i * PAIR_BYTES), newChunk);
        }
        if (i < pairsPerArea) {
          currentArea = a;
          committed = i;
          area.put(0, b, 0, chunkBytes);
          break;
        }
      }
    }
    synchronized (this) {
      nextFree = Math.max(nextFree, highest + 1);
      skipMetadata();
    }
  }

  @Override
  public synchronized long prepare() {
    if (cow.sizeInSectors() < (nextFree + 1) * chunkSize) {
      return -1;
    }
    long chunk = nextFree++;
    skipMetadata();
    return chunk;
  }

  /** Steps over the chunk of the next metadata area. */
  private void skipMetadata() {
    if (nextFree % (pairsPerArea + 1) == 1) {
      nextFree++;
    }
  }

  @Override
  public void commit(long oldChunk, long newChunk, boolean valid, Committed done) {
    enqueue(new Pending(oldChunk, newChunk, valid, done));
  }

  @Override
  public void drop() {
    enqueue(DROP);
  }

  private void enqueue(Pending p) {
    synchronized (queue) {
      queue.add(p);
      if (scheduled) {
        return;
      }
      scheduled = true;
    }
    host.run(this::drain);
  }

  /** The worker: writes what has arrived, commits it, then tells each exception's owner. */
  private void drain(MetadataBlocks m) {
    while (true) {
      List<Pending> batch;
      synchronized (queue) {
        if (queue.isEmpty()) {
          scheduled = false;
          return;
        }
        batch = new ArrayList<>(queue);
        queue.clear();
      }
      boolean ok = write(m, batch);
      for (Pending p : batch) {
        if (p.done() != null) {
          p.done().committed(ok);
        }
      }
    }
  }

  /** Puts {@code batch} on the device; returns whether the store is still valid. */
  private boolean write(MetadataBlocks m, List<Pending> batch) {
    synchronized (io) {
      boolean unwritten = false;
      for (Pending p : batch) {
        if (p == DROP) {
          valid = false;
          try {
            writeHeader(m, false);
            m.commit(0);
          } catch (IOException | RuntimeException e) {
            // The header stays valid on the device; the snapshot is invalid in memory all the same.
          }
          continue;
        }
        if (!p.valid()) {
          valid = false;
        }
        int at = committed++ * PAIR_BYTES;
        area.putLong(at, p.oldChunk());
        area.putLong(at + 8, p.newChunk());
        unwritten = true;
        if (committed == pairsPerArea) {
          if (valid) {
            try {
              m.zeroed(areaLocation(currentArea + 1));
              writeArea(m);
            } catch (IOException | RuntimeException e) {
              valid = false;
            }
          }
          committed = 0;
          currentArea++;
          clearArea();
          unwritten = false;
        }
      }
      if (unwritten && valid) {
        try {
          writeArea(m);
        } catch (IOException | RuntimeException e) {
          valid = false;
        }
      }
      return valid;
    }
  }

  /** The current area, after a flush, then flushed: the kernel's PREFLUSH | FUA write. */
  private void writeArea(MetadataBlocks m) throws IOException {
    long block = areaLocation(currentArea);
    m.zeroed(block).put(0, area, 0, chunkBytes);
    m.commit(block);
  }

  private void writeHeader(MetadataBlocks m, boolean headerValid) {
    ByteBuffer h = le(m.zeroed(0));
    h.putInt(0, MAGIC);
    h.putInt(4, headerValid ? 1 : 0);
    h.putInt(8, VERSION);
    h.putInt(12, (int) chunkSize);
  }

  private void clearArea() {
    for (int i = 0; i < chunkBytes; i += 8) {
      area.putLong(i, 0);
    }
  }

  @Override
  public boolean mergeable() {
    return true;
  }

  @Override
  public int prepareMerge(MetadataBlocks m, long[] last) throws IOException {
    synchronized (io) {
      if (committed == 0) {
        if (currentArea == 0) {
          return 0;
        }
        currentArea--;
        area.put(0, readBlock(m, areaLocation(currentArea)), 0, chunkBytes);
        committed = pairsPerArea;
      }
      last[0] = area.getLong((committed - 1) * PAIR_BYTES);
      last[1] = area.getLong((committed - 1) * PAIR_BYTES + 8);
      int n = 1;
      for (; n < committed; n++) {
        int at = (committed - 1 - n) * PAIR_BYTES;
        if (area.getLong(at) != last[0] - n || area.getLong(at + 8) != last[1] - n) {
          break;
        }
      }
      return n;
    }
  }

  @Override
  public void commitMerge(MetadataBlocks m, int merged) throws IOException {
    synchronized (io) {
      for (int i = 0; i < merged; i++) {
        int at = (committed - 1 - i) * PAIR_BYTES;
        area.putLong(at, 0);
        area.putLong(at + 8, 0);
      }
      writeArea(m);
      committed -= merged;
      // As the kernel: what next_free would be had every exception been committed in order.
      synchronized (this) {
        nextFree = areaLocation(currentArea) + committed + 1;
      }
    }
  }

  /** Chunk of metadata area {@code a}. */
  private long areaLocation(long a) {
    return 1 + (pairsPerArea + 1L) * a;
  }

  private ByteBuffer readBlock(MetadataBlocks m, long block) throws IOException {
    try {
      return m.read(block);
    } catch (IllegalArgumentException e) {
      throw new IOException("metadata area at chunk " + block + " lies past the end of "
          + cow.path(), e);
    }
  }

  @Override
  public synchronized long sectorsAllocated() {
    return nextFree * chunkSize;
  }

  @Override
  public long totalSectors() {
    return cow.sizeInSectors();
  }

  @Override
  public long metadataSectors() {
    return (currentArea + 2) * chunkSize;
  }


  private static int bytes(long sectors) {
    return Math.toIntExact(sectors << IoRequest.SECTOR_SHIFT);
  }

  private static ByteBuffer le(ByteBuffer b) {
    return b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
  }
}
