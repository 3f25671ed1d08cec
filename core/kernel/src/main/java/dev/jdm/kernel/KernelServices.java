package dev.jdm.kernel;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.IoRequest;
import java.nio.ByteBuffer;

/**
 * What a device mapper offers stateful targets, and their settings from {@code jdm.kernel}: the
 * shared parts (dm-io, the timer thread, chunk buffers, the shared-object registry) and the
 * factories of the per-target parts ({@link TargetScheduler}, {@link TargetCopier},
 * {@link MetadataCache}) that each {@link SegmentContext} makes on first use and closes with its
 * target.
 */
final class KernelServices implements AutoCloseable {
  final RegionIo io;
  final SharedObjects shared = new SharedObjects();
  private final KernelTimer timer;
  private final ChunkBuffers chunkBuffers;
  private final int workers;
  private final long workerIdleNanos;
  private final long stopTimeoutNanos;
  private final int chunkBytes;
  private final int chunksInFlight;
  private final long copyRate;
  private final int metadataCacheBlocks;
  private volatile ByteBuffer zeros;

  /** Reads the settings from {@code k}, the {@code jdm.kernel} section. */
  KernelServices(Config k, int poolSize) {
    this.workers = atLeast(k, "workers", 1);
    this.workerIdleNanos = k.getDuration("worker-idle").toNanos();
    this.stopTimeoutNanos = k.getDuration("stop-timeout").toNanos();
    long chunk = k.getBytes("copier.chunk");
    if (chunk < 4096 || chunk > (64 << 20) || chunk % IoRequest.SECTOR_SIZE != 0) {
      throw bad(k, "copier.chunk", "a multiple of 512 bytes from 4 KiB to 64 MiB");
    }
    this.chunkBytes = (int) chunk;
    this.chunksInFlight = atLeast(k, "copier.chunks-in-flight", 1);
    // getBytes refuses a negative size itself.
    this.copyRate = k.getBytes("copier.rate");
    this.metadataCacheBlocks = atLeast(k, "metadata.cache-blocks", 1);
    this.io = new RegionIo(poolSize);
    this.timer = new KernelTimer(stopTimeoutNanos);
    // Per size: many small copy-on-write copies at once, or a few whole-chunk jobs' lanes.
    this.chunkBuffers = new ChunkBuffers(chunkBytes, 64);
  }

  private static int atLeast(Config k, String path, int min) {
    int v = k.getInt(path);
    if (v < min) {
      throw bad(k, path, "at least " + min);
    }
    return v;
  }

  /** A wrong value, reported with its file and line and its full key. */
  private static ConfigException bad(Config k, String path, String expected) {
    return new ConfigException.BadValue(k.getValue(path).origin(), "jdm.kernel." + path,
        "expected " + expected);
  }

  /** A scheduler for the target at {@code device}. */
  TargetScheduler scheduler(String device) {
    return new TargetScheduler(device, timer, workers, workerIdleNanos, stopTimeoutNanos);
  }

  /** A copier for the target at {@code device}, on its scheduler. */
  TargetCopier copier(String device, TargetScheduler scheduler) {
    return new TargetCopier(device, scheduler, io, chunkBuffers, zeros(), chunkBytes,
        chunksInFlight, copyRate, stopTimeoutNanos);
  }

  /** Metadata blocks of {@code device}; the caller has checked the block size and the area. */
  MetadataCache metadata(String owner, BlockDevice device, long offsetSectors, int blockSize,
      boolean checksums) {
    return new MetadataCache(owner, device, offsetSectors, blockSize, checksums,
        metadataCacheBlocks, io);
  }

  /** One chunk of zeros, read-only, for zeroing devices that cannot do WRITE_ZEROES. */
  private ByteBuffer zeros() {
    ByteBuffer z = zeros;
    if (z == null) {
      synchronized (this) {
        z = zeros;
        if (z == null) {
          z = ByteBuffer.allocateDirect(chunkBytes).asReadOnlyBuffer();
          zeros = z;
        }
      }
    }
    return z;
  }

  /** Stops the timer thread and closes shared objects left by targets that never let go. */
  @Override
  public void close() {
    shared.close();
    timer.close();
  }
}
