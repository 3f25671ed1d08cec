package dev.jdm.nbd;

import dev.jdm.nbd.protocol.NbdWire;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Memory for request data stays within buffer-memory whatever clients do: eight fio clients
 * reading and writing 32 MiB at a time, and clients that send the start of a 32 MiB WRITE and
 * vanish. The JVM's direct memory is sampled throughout.
 */
@Timeout(600)
class RequestMemoryTest {
  private static final long MIB = 1 << 20;

  @Test
  void largeRequestsFromManyClientsStayWithinTheBufferBudget() throws Exception {
    BufferPoolMXBean direct = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)
        .stream().filter(b -> b.getName().equals("direct")).findFirst().orElseThrow();
    try (NbdFixture fx = NbdFixture.start()) {
      fx.create("big", "0 " + 1024 * MIB / 512 + " zero", false);
      AtomicBoolean done = new AtomicBoolean();
      AtomicLong peak = new AtomicLong();
      long base = direct.getMemoryUsed();
      Thread sampler = Thread.ofPlatform().start(() -> {
        while (!done.get()) {
          peak.accumulateAndGet(direct.getMemoryUsed() - base, Math::max);
          try {
            Thread.sleep(20);
          } catch (InterruptedException e) {
            return;
          }
        }
      });
      try {
        // Clients that announce a 32 MiB WRITE, send a little of it and vanish.
        for (int i = 0; i < 8; i++) {
          try (NbdTestClient c = NbdTestClient.open(fx.socket, "big", false, false)) {
            ByteBuffer b = ByteBuffer.allocate(28 + 65536);
            b.putInt(NbdWire.REQUEST_MAGIC).putShort((short) 0)
                .putShort((short) NbdWire.CMD_WRITE).putLong(i).putLong(0).putInt(32 << 20);
            c.send(b.position(b.capacity()).flip());
          }
        }
        String out = fx.ok(List.of("fio", "--name=big", "--ioengine=nbd", "--uri=" + fx.uri("big"),
            "--rw=randrw", "--bs=32M", "--iodepth=4", "--numjobs=8", "--size=256M",
            "--group_reporting", "--randrepeat=0"), 500);
        assertTrue(out.contains("err= 0"), out);
      } finally {
        done.set(true);
        sampler.join();
      }
      System.out.printf("direct memory for requests: peak %d MiB above the %d MiB before%n",
          peak.get() / MIB, base / MIB);
      // buffer-memory (128 MiB) and the few small buffers outside it.
      assertTrue(peak.get() < 160 * MIB, "direct memory peaked " + peak.get() / MIB
          + " MiB above where it started");
    }
  }
}
