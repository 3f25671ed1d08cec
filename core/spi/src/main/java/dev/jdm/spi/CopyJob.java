package dev.jdm.spi;

/** A copy or zeroing started by {@link Copier}: its progress, and a way to stop it. */
public interface CopyJob {
  /** Called once when a job ends (finished, failed or cancelled). */
  @FunctionalInterface
  interface Done {
    /**
     * @param readFailed the source could not be read (nothing more was written)
     * @param writeErrorMask bit {@code i} set when destination {@code i} failed
     * @param cancelled the job was cancelled before it finished
     */
    void done(boolean readFailed, long writeErrorMask, boolean cancelled);
  }

  /** Sectors copied (or zeroed) so far. */
  long sectorsDone();

  /** Sectors in the whole job. */
  long sectors();

  /** Whether the job has ended. */
  boolean finished();

  /** Stops the job after the chunk in flight; {@link Done} runs with {@code cancelled} set. */
  void cancel();
}
