package dev.jdm.targets.snapshot;

import dev.jdm.spi.MetadataBlocks;
import dev.jdm.spi.TargetException;
import java.io.IOException;
import java.util.function.Consumer;

/**
 * Where a snapshot keeps its exceptions (which origin chunk was copied to which COW chunk), the
 * kernel's {@code dm-exception-store.h}: {@link PersistentStore} ({@code P}, {@code PO}) keeps them
 * on the COW device in the kernel's format, {@link TransientStore} ({@code N}) in memory only.
 *
 * <p>{@link #prepare} runs on the data path and never blocks. {@link #commit} and {@link #drop}
 * return at once and do their I/O on a worker of the {@link Host}; the merge calls block and run on
 * the merge's worker.
 */
interface ExceptionStore {
  /** Receives each exception read back from the COW device. */
  @FunctionalInterface
  interface Loaded {
    void add(long oldChunk, long newChunk);
  }

  /** Told once an exception is durable, or that it could not be made so. */
  @FunctionalInterface
  interface Committed {
    /** @param valid false when the snapshot became invalid: the exception is lost */
    void committed(boolean valid);
  }

  /** Opens the COW device's metadata in blocks of {@code blockSize} bytes (a chunk). */
  @FunctionalInterface
  interface Opener {
    MetadataBlocks open(int blockSize) throws TargetException;
  }

  /** Runs a store's blocking work on a worker, with the metadata blocks of the same target. */
  @FunctionalInterface
  interface Host {
    void run(Consumer<MetadataBlocks> work);
  }

  /**
   * The largest chunk in sectors: 1 MiB, the largest metadata block the core caches (the kernel
   * allows up to 2 GiB).
   */
  long MAX_CHUNK_SECTORS = 2048;

  /**
   * Why {@code sectors} cannot be a chunk size on devices whose logical blocks are
   * {@code blockSectors} long, in the kernel's words; null when it can.
   */
  static String chunkSizeProblem(long sectors, long blockSectors) {
    if (sectors <= 0 || Long.bitCount(sectors) != 1) {
      return "Chunk size is not a power of 2";
    }
    if (sectors % blockSectors != 0) {
      return "Chunk size is not a multiple of device blocksize";
    }
    if (sectors > MAX_CHUNK_SECTORS) {
      return "Chunk size is too high";
    }
    return null;
  }

  /** Chunk size in sectors, as the store settled it (a persistent header overrides the table). */
  long chunkSize();

  /**
   * Reads the exceptions already on the COW device into {@code loaded}, or sets up a new store.
   * Blocks; for the constructor only.
   *
   * @return false when the store marks the snapshot invalid
   * @throws IOException the device failed, or holds something that is not a snapshot
   */
  boolean read(Opener opener, Loaded loaded) throws IOException, TargetException;

  /** Allocates the COW chunk of a new exception; -1 when the COW device is full. Never blocks. */
  long prepare();

  /**
   * Records exception {@code oldChunk -> newChunk}, in the order {@link #prepare} handed the chunks
   * out; {@code done} runs once it is durable (or failed). {@code valid} false invalidates the
   * store (the copy failed).
   */
  void commit(long oldChunk, long newChunk, boolean valid, Committed done);

  /** Marks the snapshot invalid on the COW device. */
  void drop();

  /** Sectors of the COW device in use, data and metadata. */
  long sectorsAllocated();

  /** Sectors of the COW device. */
  long totalSectors();

  /** Sectors of the COW device holding metadata. */
  long metadataSectors();

  /** Whether the store can give exceptions back for a merge. */
  default boolean mergeable() {
    return false;
  }

  /**
   * The newest exception left and how many before it are consecutive in both origin and COW
   * chunks: {@code last[0]} and {@code last[1]} get the last pair's old and new chunk. Blocks.
   *
   * @return how many exceptions end at {@code last} and can be merged together; 0 when none is
   *     left
   */
  default int prepareMerge(MetadataBlocks metadata, long[] last) throws IOException {
    throw new UnsupportedOperationException("not mergeable");
  }

  /** Forgets the {@code merged} newest exceptions, durably. Blocks. */
  default void commitMerge(MetadataBlocks metadata, int merged) throws IOException {
    throw new UnsupportedOperationException("not mergeable");
  }
}
