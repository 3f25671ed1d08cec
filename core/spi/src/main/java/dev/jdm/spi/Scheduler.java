package dev.jdm.spi;

/**
 * Time and threads for a target, owned by the core: the kernel's timers and workqueues. Everything
 * scheduled through it is cancelled, and its workers stopped, when the target closes, so a target
 * never leaks a thread. Obtained from {@link TargetContext#scheduler()}; tests substitute a clock
 * they move by hand.
 */
public interface Scheduler {
  /** A handle to cancel a scheduled task. */
  @FunctionalInterface
  interface Cancellable {
    /** Cancels the task if it has not started; returns whether it was cancelled. */
    boolean cancel();
  }

  /** The scheduler's clock in nanoseconds, monotonic: measure delays with it, not the JDK's. */
  long nanoTime();

  /** Runs {@code task} once, {@code delayNanos} from now on the scheduler's clock. */
  Cancellable schedule(Runnable task, long delayNanos);

  /**
   * Runs {@code task} on a bounded pool of workers that may block on I/O (the kernel's
   * workqueues): metadata commits, waiting for a copy, retries.
   */
  void execute(Runnable task);

  /** Runs {@code task} on a pool with one thread per CPU, for CPU-bound work (encryption). */
  void compute(Runnable task);
}
