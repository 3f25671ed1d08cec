package dev.jdm.targets.snapshot;

import dev.jdm.spi.BlockDevice;

/**
 * The {@code N} store, the kernel's {@code dm-snap-transient.c}: exceptions live in memory only, the
 * COW device holds copied chunks from its first sector on, and nothing survives the target.
 */
final class TransientStore implements ExceptionStore {
  private final BlockDevice cow;
  private final long chunkSize;
  private long nextFree;

  TransientStore(BlockDevice cow, long chunkSize) {
    this.cow = cow;
    this.chunkSize = chunkSize;
  }

  @Override
  public long chunkSize() {
    return chunkSize;
  }

  @Override
  public boolean read(Opener opener, Loaded loaded) {
    return true;
  }

  @Override
  public synchronized long prepare() {
    if (cow.sizeInSectors() < nextFree + chunkSize) {
      return -1;
    }
    long chunk = nextFree / chunkSize;
    nextFree += chunkSize;
    return chunk;
  }

  @Override
  public void commit(long oldChunk, long newChunk, boolean valid, Committed done) {
    done.committed(valid);
  }

  @Override
  public void drop() {}

  @Override
  public synchronized long sectorsAllocated() {
    return nextFree;
  }

  @Override
  public long totalSectors() {
    return cow.sizeInSectors();
  }

  @Override
  public long metadataSectors() {
    return 0;
  }

}
