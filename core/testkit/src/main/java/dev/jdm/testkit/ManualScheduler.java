package dev.jdm.testkit;

import dev.jdm.spi.Scheduler;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/**
 * A {@link Scheduler} whose clock moves only when the test says so, for time-based targets (delay,
 * flakey's up and down windows). Timers fire inside {@link #advance}, in time order, on the test's
 * thread; {@link #execute} and {@link #compute} tasks run at once on the caller's thread.
 */
public final class ManualScheduler implements Scheduler {
  private record Timer(long due, long order, Runnable task, boolean[] cancelled) {}

  private final PriorityQueue<Timer> timers = new PriorityQueue<>(
      (a, b) -> a.due != b.due ? Long.compare(a.due, b.due) : Long.compare(a.order, b.order));
  private long now;
  private long order;

  /** A clock at 0 with nothing scheduled. */
  public ManualScheduler() {}

  @Override
  public synchronized long nanoTime() {
    return now;
  }

  @Override
  public synchronized Cancellable schedule(Runnable task, long delayNanos) {
    boolean[] cancelled = {false};
    Timer t = new Timer(now + Math.max(0, delayNanos), order++, task, cancelled);
    timers.add(t);
    return () -> {
      synchronized (this) {
        if (cancelled[0] || !timers.remove(t)) {
          return false;
        }
        cancelled[0] = true;
        return true;
      }
    };
  }

  @Override
  public void execute(Runnable task) {
    task.run();
  }

  @Override
  public void compute(Runnable task) {
    task.run();
  }

  /** Moves the clock forward by {@code nanos}, running every timer that falls due, in order. */
  public void advance(long nanos) {
    long target;
    synchronized (this) {
      target = now + nanos;
    }
    while (true) {
      Timer next;
      synchronized (this) {
        next = timers.peek();
        if (next == null || next.due > target) {
          now = target;
          return;
        }
        timers.poll();
        now = next.due;
      }
      next.task.run();
    }
  }

  /** How many timers wait to fire. */
  public synchronized int pending() {
    return timers.size();
  }

  /** When the timers waiting now fall due, earliest first (for assertions). */
  public synchronized List<Long> dueTimes() {
    List<Long> out = new ArrayList<>();
    timers.stream().sorted((a, b) -> Long.compare(a.due, b.due)).forEach(t -> out.add(t.due));
    return out;
  }
}
