package dev.jdm.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.nbd.NbdTestClient.Reply;
import dev.jdm.nbd.protocol.NbdWire;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Once pools are warm, the frontend allocates (next to) nothing per request: slots, kernel
 * requests, payload buffers, input chunks and reply headers are all reused.
 */
@Timeout(300)
class DataPathAllocationTest {
  private static final int DEPTH = 32;

  @Test
  void steadyStateRequestsAllocateNothingOnTheServer() throws Exception {
    try (NbdFixture fx = NbdFixture.start()) {
      // The whole path: socket, frontend, core, linear target, pwrite/pread on a backing file.
      fx.create("disk", "0 131072 linear " + fx.file("disk.img", 131072L * 512) + " 0", false);
      try (NbdTestClient c = NbdTestClient.open(fx.socket, "disk", true, false)) {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        ByteBuffer burst = burst();
        int rounds = 2000;
        long before = 0;
        for (int i = 0; i < 2 * rounds; i++) {
          if (i == rounds) {
            before = serverBytes(mx);
          }
          c.send(burst.clear());
          for (int k = 0; k < 2 * DEPTH; k++) {
            Reply r = c.reply();
            assertEquals(0, r.error());
          }
        }
        long perRequest = (serverBytes(mx) - before) / (rounds * 2L * DEPTH);
        assertTrue(perRequest < 16, "the server allocated " + perRequest + " bytes per request");
      }
    }
  }

  /** DEPTH 4 KiB writes and DEPTH 4 KiB reads in one burst, as a busy client pipelines them. */
  private static ByteBuffer burst() {
    ByteBuffer b = ByteBuffer.allocateDirect(DEPTH * (28 + 4096) + DEPTH * 28);
    for (int i = 0; i < DEPTH; i++) {
      b.putInt(NbdWire.REQUEST_MAGIC).putShort((short) 0).putShort((short) NbdWire.CMD_WRITE)
          .putLong(i).putLong(i * 65536L).putInt(4096).put(new byte[4096]);
    }
    for (int i = 0; i < DEPTH; i++) {
      b.putInt(NbdWire.REQUEST_MAGIC).putShort((short) 0).putShort((short) NbdWire.CMD_READ)
          .putLong(DEPTH + i).putLong(i * 65536L).putInt(4096);
    }
    return b.flip();
  }

  /** Bytes allocated so far by the server's threads (their names start with "nbd"). */
  private static long serverBytes(com.sun.management.ThreadMXBean mx) {
    long sum = 0;
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("nbd")) {
        sum += Math.max(0, mx.getThreadAllocatedBytes(t.threadId()));
      }
    }
    return sum;
  }
}
