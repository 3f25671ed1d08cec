package dev.jdm.kernel;

import dev.jdm.spi.Scheduler;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One target's timers and threads, the kernel's per-target workqueues: a bounded pool of workers
 * that may block ({@code jdm-worker-<device>-N}), a pool of one thread per CPU for CPU-bound work
 * ({@code jdm-compute-<device>-N}), and timers on the mapper's shared {@link KernelTimer} whose
 * tasks run on the workers. Threads start when work comes and stop when idle for a while. Closing
 * cancels the timers, drops queued tasks, and waits for running ones: the target leaves no thread.
 * Nothing here blocks the caller, so {@link #schedule} and {@link #execute} are fine in map.
 */
final class TargetScheduler implements Scheduler, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TargetScheduler.class);
  /** The scheduler whose pool runs the current thread, to never wait for oneself on close. */
  private static final ThreadLocal<TargetScheduler> OWNER = new ThreadLocal<>();

  private final String device;
  private final KernelTimer timer;
  private final long stopTimeoutNanos;
  private final ThreadPoolExecutor workers;
  private final ThreadPoolExecutor compute;
  private final Set<Timer> timers = ConcurrentHashMap.newKeySet();
  private volatile ScheduledThreadPoolExecutor timerThread;
  private volatile boolean closed;

  TargetScheduler(String device, KernelTimer timer, int workerCount, long idleNanos,
      long stopTimeoutNanos) {
    this.device = device;
    this.timer = timer;
    this.stopTimeoutNanos = stopTimeoutNanos;
    this.workers = pool(workerCount, idleNanos, "jdm-worker-" + device + "-");
    this.compute = pool(Runtime.getRuntime().availableProcessors(), idleNanos,
        "jdm-compute-" + device + "-");
  }

  private ThreadPoolExecutor pool(int threads, long idleNanos, String prefix) {
    ThreadFactory names = Thread.ofPlatform().name(prefix, 1).daemon().factory();
    ThreadFactory owned = r -> names.newThread(() -> {
      OWNER.set(this);
      r.run();
    });
    ThreadPoolExecutor p = new ThreadPoolExecutor(threads, threads, idleNanos,
        TimeUnit.NANOSECONDS, new LinkedBlockingQueue<>(), owned);
    p.allowCoreThreadTimeOut(true);
    return p;
  }

  @Override
  public long nanoTime() {
    return System.nanoTime();
  }

  @Override
  public Cancellable schedule(Runnable task, long delayNanos) {
    ScheduledThreadPoolExecutor t = timerThread();
    Timer entry = new Timer(task);
    timers.add(entry);
    try {
      entry.future = t.schedule(entry, Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      timers.remove(entry);
      throw closedError();
    }
    return entry;
  }

  private ScheduledThreadPoolExecutor timerThread() {
    ScheduledThreadPoolExecutor t = timerThread;
    if (t == null) {
      synchronized (this) {
        if (closed) {
          throw closedError();
        }
        t = timerThread;
        if (t == null) {
          t = timer.acquire();
          timerThread = t;
        }
      }
    }
    return t;
  }

  @Override
  public void execute(Runnable task) {
    run(workers, task);
  }

  @Override
  public void compute(Runnable task) {
    run(compute, task);
  }

  private void run(ThreadPoolExecutor pool, Runnable task) {
    if (closed) {
      throw closedError();
    }
    try {
      pool.execute(() -> {
        try {
          task.run();
        } catch (RuntimeException | Error e) {
          LOG.error("{}: background task failed", device, e);
        }
      });
    } catch (RejectedExecutionException e) {
      throw closedError();
    }
  }

  private RejectedExecutionException closedError() {
    return new RejectedExecutionException(device + ": the target's scheduler is closed");
  }

  /**
   * Cancels every timer, drops queued tasks, and waits up to the stop timeout for running ones;
   * then the pools' threads are gone.
   */
  @Override
  public void close() {
    ScheduledThreadPoolExecutor held;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      held = timerThread;
      timerThread = null;
    }
    for (Timer t : timers) {
      t.cancel();
    }
    List<Runnable> dropped = new ArrayList<>();
    for (ThreadPoolExecutor p : List.of(workers, compute)) {
      p.getQueue().drainTo(dropped);
      p.shutdown();
    }
    if (!dropped.isEmpty()) {
      LOG.debug("{}: {} queued background task(s) dropped on close", device, dropped.size());
    }
    if (OWNER.get() != this) {
      long deadline = System.nanoTime() + stopTimeoutNanos;
      try {
        for (ThreadPoolExecutor p : List.of(workers, compute)) {
          if (!p.awaitTermination(Math.max(0, deadline - System.nanoTime()),
              TimeUnit.NANOSECONDS)) {
            LOG.warn("{}: background tasks still running {} ms after the target closed", device,
                TimeUnit.NANOSECONDS.toMillis(stopTimeoutNanos));
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (held != null) {
      timer.release();
    }
  }

  /** A task waiting on the timer; when due it goes to the workers. */
  private final class Timer implements Runnable, Cancellable {
    private final Runnable task;
    volatile ScheduledFuture<?> future;

    Timer(Runnable task) {
      this.task = task;
    }

    @Override
    public void run() {
      if (!timers.remove(this)) {
        return;
      }
      try {
        execute(task);
      } catch (RejectedExecutionException e) {
        LOG.debug("{}: timer fired after close", device);
      }
    }

    @Override
    public boolean cancel() {
      if (!timers.remove(this)) {
        return false;
      }
      ScheduledFuture<?> f = future;
      if (f != null) {
        f.cancel(false);
      }
      return true;
    }
  }

  @Override
  public String toString() {
    return device + ": scheduler";
  }
}
