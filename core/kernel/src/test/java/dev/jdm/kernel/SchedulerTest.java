package dev.jdm.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.jdm.spi.Scheduler;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A target's scheduler: timers, workers and the CPU pool, all stopped with the target. */
class SchedulerTest {
  @TempDir Path dir;
  ServiceFixture f;
  Path disk;

  @BeforeEach
  void setUp() throws Exception {
    f = new ServiceFixture();
    disk = ServiceFixture.sparse(dir.resolve("disk.img"), 1 << 20);
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  @Test
  void timersRunOnWorkersAfterTheirDelayAndCancelledOnesNever() throws Exception {
    Scheduler s = f.probe("timers", 2048, disk).ctx.scheduler();
    CompletableFuture<String> fired = new CompletableFuture<>();
    long start = s.nanoTime();
    s.schedule(() -> fired.complete(Thread.currentThread().getName()),
        TimeUnit.MILLISECONDS.toNanos(100));
    AtomicBoolean cancelledRan = new AtomicBoolean();
    Scheduler.Cancellable c = s.schedule(() -> cancelledRan.set(true),
        TimeUnit.MILLISECONDS.toNanos(50));
    assertTrue(c.cancel());
    assertFalse(c.cancel());
    String thread = fired.get(5, TimeUnit.SECONDS);
    long waited = s.nanoTime() - start;
    assertTrue(waited >= TimeUnit.MILLISECONDS.toNanos(100), waited + " ns");
    assertTrue(thread.startsWith("jdm-worker-timers-"), thread);
    Thread.sleep(100);
    assertFalse(cancelledRan.get());
  }

  @Test
  void executeAndComputeRunOnTheirPools() throws Exception {
    Scheduler s = f.probe("pools", 2048, disk).ctx.scheduler();
    CompletableFuture<String> worker = new CompletableFuture<>();
    CompletableFuture<String> cpu = new CompletableFuture<>();
    s.execute(() -> worker.complete(Thread.currentThread().getName()));
    s.compute(() -> cpu.complete(Thread.currentThread().getName()));
    assertTrue(worker.get(5, TimeUnit.SECONDS).startsWith("jdm-worker-pools-"));
    assertTrue(cpu.get(5, TimeUnit.SECONDS).startsWith("jdm-compute-pools-"));
    // A task that throws does not take the pool down.
    s.execute(() -> {
      throw new IllegalStateException("expected by the test");
    });
    CompletableFuture<Boolean> after = new CompletableFuture<>();
    s.execute(() -> after.complete(true));
    assertTrue(after.get(5, TimeUnit.SECONDS));
  }

  @Test
  void workersAreBoundedByConfig() throws Exception {
    f.close();
    f = new ServiceFixture(ConfigFactory
        .parseString("jdm.kernel.workers = 2")
        .withFallback(ConfigFactory.defaultReference()));
    Scheduler s = f.probe("bounded", 2048, disk).ctx.scheduler();
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger running = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    CountDownLatch all = new CountDownLatch(6);
    for (int i = 0; i < 6; i++) {
      s.execute(() -> {
        most.accumulateAndGet(running.incrementAndGet(), Math::max);
        try {
          release.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        running.decrementAndGet();
        all.countDown();
      });
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (running.get() < 2 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    Thread.sleep(100);
    assertEquals(2, most.get());
    release.countDown();
    assertTrue(all.await(5, TimeUnit.SECONDS));
  }

  @Test
  void closingTheTableCancelsTimersDropsQueuedWorkAndStopsThreads() throws Exception {
    Set<String> before = ServiceFixture.jdmThreads();
    Scheduler s = f.probe("closing", 2048, disk).ctx.scheduler();
    AtomicBoolean late = new AtomicBoolean();
    s.schedule(() -> late.set(true), TimeUnit.MILLISECONDS.toNanos(300));
    CountDownLatch started = new CountDownLatch(1);
    CompletableFuture<Boolean> finished = new CompletableFuture<>();
    s.execute(() -> {
      started.countDown();
      sleep(200);
      finished.complete(true);
    });
    s.compute(() -> { });
    assertTrue(started.await(5, TimeUnit.SECONDS));
    assertTrue(ServiceFixture.jdmThreads().contains("jdm-timer"));
    f.dm.remove("closing", false);
    // The running task was waited for; the timer will never fire; no thread is left.
    assertTrue(finished.isDone());
    assertEquals(before, ServiceFixture.awaitJdmThreads(before));
    Thread.sleep(400);
    assertFalse(late.get());
    assertThrows(RejectedExecutionException.class, () -> s.execute(() -> { }));
    assertThrows(RejectedExecutionException.class, () -> s.schedule(() -> { }, 0));
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
