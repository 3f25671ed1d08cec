package dev.jdm.spi;

import java.nio.ByteBuffer;

/**
 * One I/O to several regions at once, with one completion: the kernel's {@code dm_io()}. A mirror
 * writes to every leg with it, a metadata store reads and writes its blocks with it. Obtained from
 * {@link TargetContext#io()}.
 *
 * <p>WRITE sends the same {@code bytes} of data to every region; READ reads one region (pass one);
 * FLUSH flushes each region's device; DISCARD and WRITE_ZEROES act on each region's range. Every
 * region of a READ or WRITE is {@code bytes} long. At most {@link #MAX_REGIONS} regions.
 */
public interface DeviceIo {
  /** Regions one call can address: one bit each in the error mask. */
  int MAX_REGIONS = 64;

  /** Called once when every region ended. */
  @FunctionalInterface
  interface Done {
    /**
     * @param errorMask bit {@code i} set when region {@code i} failed; 0 when all succeeded
     * @param firstError the status of the first failure, or {@link IoStatus#OK}
     */
    void done(long errorMask, IoStatus firstError);
  }

  /**
   * Starts the I/O and returns at once; {@code done} runs on whichever thread finishes last
   * (possibly this one, before this method returns). Allocates nothing in steady state.
   *
   * @param op what to do
   * @param flags {@link IoRequest#FUA} and the other request flags, or 0
   * @param regions where; the first {@code count} are used
   * @param count how many regions, 1 to {@link #MAX_REGIONS}
   * @param data the buffer for READ and WRITE, else null
   * @param dataOffset where the data starts in {@code data}
   * @param done called once at the end
   */
  void submit(IoOp op, int flags, Region[] regions, int count, ByteBuffer data, int dataOffset,
      Done done);

  /**
   * As {@link #submit}, waiting for the end: for control-path and worker threads only, never in
   * {@link Target#map} or a completion.
   *
   * @return the error mask
   */
  long run(IoOp op, int flags, Region[] regions, int count, ByteBuffer data, int dataOffset)
      throws InterruptedException;
}
