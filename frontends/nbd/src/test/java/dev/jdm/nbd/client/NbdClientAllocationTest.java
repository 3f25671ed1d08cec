package dev.jdm.nbd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.IoCompletion;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.testkit.Nbdkit;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Once its jobs are in use, the NBD client allocates (next to) nothing per request, neither on the
 * submitting thread nor on its own threads: jobs, headers and cookies are reused, and data goes
 * from the request's buffer to the socket and back.
 */
@Timeout(300)
class NbdClientAllocationTest {
  private static final int DEPTH = 32;
  @TempDir Path dir;

  @Test
  void steadyStateRequestsAllocateNothing() throws Exception {
    try (Nbdkit kit = Nbdkit.start(dir, "mem", List.of("memory", "64M"));
        NbdDevice d = NbdDevice.open(NbdUri.parse(kit.uri()), NbdClientTest.options(2,
            Duration.ofSeconds(30)))) {
      var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
      Semaphore slots = new Semaphore(DEPTH);
      AtomicInteger failed = new AtomicInteger();
      // Which requests are in flight: completions come back in any order.
      AtomicIntegerArray busy = new AtomicIntegerArray(DEPTH);
      IoRequest[] requests = new IoRequest[DEPTH];
      ByteBuffer[] buffers = new ByteBuffer[DEPTH];
      IoCompletion[] dones = new IoCompletion[DEPTH];
      for (int i = 0; i < DEPTH; i++) {
        int slot = i;
        requests[i] = new IoRequest();
        buffers[i] = ByteBuffer.allocateDirect(4096);
        dones[i] = r -> {
          if (r.status() != IoStatus.OK) {
            failed.incrementAndGet();
          }
          busy.set(slot, 0);
          slots.release();
        };
      }
      int rounds = 40_000;
      long before = 0;
      for (int i = 0; i < 2 * rounds; i++) {
        if (i == rounds) {
          slots.acquire(DEPTH);
          slots.release(DEPTH);
          before = allocated(mx, kit.uri());
        }
        slots.acquire();
        int k = i % DEPTH;
        while (!busy.compareAndSet(k, 0, 1)) {
          k = (k + 1) % DEPTH;
        }
        IoOp op = (i & 1) == 0 ? IoOp.WRITE : IoOp.READ;
        d.submit(requests[k].prepare(op, 0, (i % 16384) * 8L, 4096, buffers[k], 0, dones[k]));
      }
      slots.acquire(DEPTH);
      long perRequest = (allocated(mx, kit.uri()) - before) / rounds;
      assertEquals(0, failed.get(), "failed requests");
      assertTrue(perRequest < 16, "the client allocated " + perRequest + " bytes per request");
    }
  }

  /** Bytes allocated so far by this thread and the client's (named after the URI). */
  private static long allocated(com.sun.management.ThreadMXBean mx, String uri) {
    long sum = mx.getCurrentThreadAllocatedBytes();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("nbd " + uri)) {
        sum += Math.max(0, mx.getThreadAllocatedBytes(t.threadId()));
      }
    }
    return sum;
  }
}
