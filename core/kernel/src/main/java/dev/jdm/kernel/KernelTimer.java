package dev.jdm.kernel;

import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one timer thread of a device mapper, {@code jdm-timer}, shared by every target's
 * {@link TargetScheduler}: the kernel's timer wheel. It only hands due tasks to their target's
 * workers, so one slow task never delays another target's timers. The thread exists while some
 * scheduler holds the timer, and stops when the last one lets go.
 */
final class KernelTimer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(KernelTimer.class);

  private final long stopTimeoutNanos;
  private ScheduledThreadPoolExecutor executor;
  private int users;

  KernelTimer(long stopTimeoutNanos) {
    this.stopTimeoutNanos = stopTimeoutNanos;
  }

  /** Takes a hold on the timer, starting it if needed; the holder calls {@link #release} once. */
  synchronized ScheduledThreadPoolExecutor acquire() {
    if (users++ == 0) {
      executor = new ScheduledThreadPoolExecutor(1,
          Thread.ofPlatform().name("jdm-timer").daemon().factory());
      executor.setRemoveOnCancelPolicy(true);
      executor.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    }
    return executor;
  }

  /** Lets go of a hold; the last one stops the thread and waits for it to end. */
  void release() {
    ScheduledThreadPoolExecutor stopping;
    synchronized (this) {
      if (users == 0 || --users > 0) {
        return;
      }
      stopping = executor;
      executor = null;
    }
    stop(stopping);
  }

  private void stop(ScheduledThreadPoolExecutor e) {
    e.shutdownNow();
    try {
      if (!e.awaitTermination(stopTimeoutNanos, TimeUnit.NANOSECONDS)) {
        LOG.warn("jdm-timer: still running {} ms after it was stopped",
            TimeUnit.NANOSECONDS.toMillis(stopTimeoutNanos));
      }
    } catch (InterruptedException x) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops the thread whatever holds remain (the device mapper is closing). */
  @Override
  public void close() {
    ScheduledThreadPoolExecutor stopping;
    synchronized (this) {
      stopping = executor;
      executor = null;
      users = 0;
    }
    if (stopping != null) {
      stop(stopping);
    }
  }
}
