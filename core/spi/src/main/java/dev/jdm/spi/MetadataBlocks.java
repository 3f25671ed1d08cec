package dev.jdm.spi;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Fixed-size blocks of a metadata device read through a bounded cache, with dirty tracking and a
 * crash-consistent commit: the kernel's {@code dm-bufio} with a transaction on top. Exception
 * stores, dirty-region logs and bitmaps keep their state in it. Obtained from
 * {@link TargetContext#metadata}; closed with its target.
 *
 * <p>Calls block on I/O: use them from the control path or a {@link Scheduler#execute} worker,
 * never in {@link Target#map} or a completion. One thread at a time per instance.
 *
 * <p>With checksums on, the last 4 bytes of every block hold the CRC-32C of the rest, little
 * endian, written on write-back and checked on read.
 */
public interface MetadataBlocks extends AutoCloseable {
  /** Bytes per block. */
  int blockSize();

  /** Blocks on the device from the area's start. */
  long blockCount();

  /**
   * The block's contents, read from the device unless cached. The buffer is the cache's own: change
   * it in place and {@link #markDirty} it; it stays valid until {@link #close}.
   *
   * @throws IOException the device failed, or the checksum does not match
   */
  ByteBuffer read(long block) throws IOException;

  /** A block filled with zeros without reading it, already marked dirty (a newly used block). */
  ByteBuffer zeroed(long block);

  /** Marks a block read or zeroed before as changed; the next {@link #commit} writes it. */
  void markDirty(long block);

  /**
   * Makes the changes durable in crash-consistent order: every dirty block but {@code commitBlock}
   * is written, the device is flushed, then {@code commitBlock} (the superblock or header that
   * points at the new state) is written and the device flushed again. A crash at any point leaves
   * either the old commit block or the new one with everything it refers to.
   *
   * @param commitBlock the block written last, or -1 for none (write and flush only)
   */
  void commit(long commitBlock) throws IOException;

  /** Drops clean cached blocks; dirty ones stay. */
  @Override
  void close();
}
