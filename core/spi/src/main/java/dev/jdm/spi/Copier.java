package dev.jdm.spi;

/**
 * Copies or zeroes ranges between devices in the background, the kernel's {@code dm-kcopyd}: in
 * chunks, with at most a few chunks in flight, throttled to a rate, cancellable. Mirror resync,
 * snapshot copy-on-write and merge, and raid rebuild stand on it. Obtained from
 * {@link TargetContext#copier()}; every job still running is cancelled when its target closes.
 */
public interface Copier {
  /**
   * Copies {@code from} to each of the first {@code count} regions of {@code to} (each as long as
   * {@code from}); returns at once. {@code done} runs on a copier thread. The regions are read when
   * the job starts and may be reused afterwards.
   */
  CopyJob copy(Region from, Region[] to, int count, CopyJob.Done done);

  /** Writes zeros to the first {@code count} regions of {@code to}; returns at once. */
  CopyJob zero(Region[] to, int count, CopyJob.Done done);

  /** The throttle of this target's jobs in bytes per second; 0 means as fast as possible. */
  long rate();

  /** Changes the throttle of this target's jobs, running ones included (0: unthrottled). */
  void rate(long bytesPerSecond);
}
