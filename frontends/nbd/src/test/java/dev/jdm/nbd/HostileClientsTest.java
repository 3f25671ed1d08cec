package dev.jdm.nbd;

import dev.jdm.nbd.protocol.NbdWire;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.jdm.nbd.NbdTestClient.Reply;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;

/**
 * Clients that hold connections without finishing the handshake, that sit idle by the thousand,
 * that send requests larger than the maximum or not aligned: the server keeps serving everyone
 * else, costs little per idle client, and answers what proto.md says.
 */
@Timeout(300)
class HostileClientsTest {
  private NbdFixture fx;
  private final List<NbdTestClient> held = new ArrayList<>();
  private final ListAppender<ILoggingEvent> log = new ListAppender<>();

  @AfterEach
  void stop() throws Exception {
    for (NbdTestClient c : held) {
      c.close();
    }
    ((Logger) LoggerFactory.getLogger("dev.jdm")).detachAppender(log);
    if (fx != null) {
      fx.close();
    }
  }

  private void captureLog() {
    log.start();
    ((Logger) LoggerFactory.getLogger("dev.jdm")).addAppender(log);
  }

  private long warnings() {
    return log.list.stream().filter(e -> e.getLevel() == Level.WARN).count();
  }

  @Test
  void clientsThatNeverFinishTheHandshakeLockNoOneOut() throws Exception {
    fx = NbdFixture.start();
    fx.create("disk", "0 2048 zero", false);
    captureLog();
    // 300 clients that connect and say nothing, more than max-connections was (256).
    for (int i = 0; i < 300; i++) {
      held.add(NbdTestClient.connect(fx.socket));
    }
    for (int i = 0; i < 20; i++) {
      // An attacker keeps connecting while good clients come and go.
      for (int k = 0; k < 20; k++) {
        held.add(NbdTestClient.connect(fx.socket));
      }
      assertEquals("1048576\n", fx.ok(List.of("nbdinfo", "--size", fx.uri("disk")), 60),
          "good client " + i);
    }
    assertTrue(warnings() <= 3, "the refusals flooded the log: " + warnings() + " warnings");
  }

  @Test
  void idleConnectionsHoldNoPlatformThread() throws Exception {
    fx = NbdFixture.start("jdm.frontends.nbd.max-connections = 2000");
    fx.create("disk", "0 2048 zero", false);
    var threads = ManagementFactory.getThreadMXBean();
    int before = threads.getThreadCount();
    for (int i = 0; i < 1200; i++) {
      NbdTestClient c = NbdTestClient.open(fx.socket, "disk", false, false);
      held.add(c);
      if (i % 2 == 0) {
        assertEquals(0, c.readAt(0, 4096).error());
      }
    }
    // Past idle-after (1s), the connections that did a request gave their threads back too.
    Thread.sleep(2500);
    int after = threads.getThreadCount();
    System.out.printf("platform threads: %d before, %d with 1200 idle connections%n", before,
        after);
    assertTrue(after - before < 50, "1200 idle connections took " + (after - before)
        + " platform threads");
    // And each one wakes up when its client speaks again.
    for (int i = 0; i < held.size(); i += 100) {
      assertEquals(0, held.get(i).readAt(512, 512).error());
    }
  }

  @Test
  void aWriteOverTheMaximumIsEinvalAndTheStreamStaysInStep() throws Exception {
    fx = NbdFixture.start("jdm.frontends.nbd.max-payload = 1MiB");
    fx.linear("disk", fx.file("disk.img", 128 << 20));
    try (NbdTestClient c = NbdTestClient.open(fx.socket, "disk", false, false)) {
      // Above 32 MiB, where the connection used to be dropped.
      byte[] big = new byte[33 << 20];
      assertEquals(NbdWire.EINVAL, c.write(0, big).error());
      assertEquals(0, c.readAt(0, 4096).error(), "the stream is still in step");
    }
    fx.close();
    fx = NbdFixture.start("jdm.frontends.nbd.max-payload = 64MiB");
    fx.linear("disk", fx.file("disk.img", 128 << 20));
    try (NbdTestClient c = NbdTestClient.open(fx.socket, "disk", false, false)) {
      byte[] data = new byte[64 << 20];
      new Random(5).nextBytes(data);
      assertEquals(0, c.write(4096, data).error());
      Reply back = c.readAt(4096, 64 << 20);
      assertEquals(0, back.error());
      assertArrayEquals(data, back.data());
    }
  }

  @Test
  void unalignedRequestsAreServedUnlessTheClientAgreedOnBlockSizes() throws Exception {
    fx = NbdFixture.start();
    fx.linear("disk", fx.file("disk.img", 1 << 20));
    byte[] model = new byte[1 << 20];
    Random r = new Random(9);
    try (NbdTestClient c = NbdTestClient.openByName(fx.socket, "disk")) {
      for (int i = 0; i < 200; i++) {
        int off = r.nextInt(model.length - 5000);
        byte[] data = new byte[1 + r.nextInt(4999)];
        r.nextBytes(data);
        assertEquals(0, c.write(off, data).error(), "write at " + off);
        System.arraycopy(data, 0, model, off, data.length);
      }
      c.request(0, NbdWire.CMD_WRITE_ZEROES, 3, 1001, 3000, null);
      assertEquals(0, c.reply().error());
      Arrays.fill(model, 1001, 4001, (byte) 0);
      c.request(0, NbdWire.CMD_TRIM, 4, 7, 100, null);
      assertEquals(0, c.reply().error());
      for (int off = 3; off < model.length; off += 99_991) {
        int len = Math.min(7777, model.length - off);
        Reply back = c.readAt(off, len);
        assertEquals(0, back.error());
        byte[] want = Arrays.copyOfRange(model, off, off + len);
        assertArrayEquals(want, back.data(), "read at " + off);
      }
      assertEquals(NbdWire.EINVAL, c.readAt((1 << 20) - 100, 200).error(), "past the end");
    }
    try (NbdTestClient c = NbdTestClient.open(fx.socket, "disk", true, false)) {
      Reply refused = c.readAt(3, 100);
      assertEquals(NbdWire.EINVAL, refused.error());
      assertTrue(refused.message().contains("not aligned to the 512 byte minimum block agreed on"),
          refused.message());
    }
  }

  @Test
  void aFuaWriteToAReadOnlyExportIsEperm() throws Exception {
    fx = NbdFixture.start();
    fx.create("ro", "0 2048 linear " + fx.file("ro.img", 1 << 20) + " 0", true);
    try (NbdTestClient c = NbdTestClient.open(fx.socket, "ro", true, false)) {
      c.request(NbdWire.CMD_FLAG_FUA, NbdWire.CMD_WRITE, 7, 0, 512, new byte[512]);
      Reply r = c.reply();
      assertEquals(NbdWire.EPERM, r.error(), r.message());
      c.request(NbdWire.CMD_FLAG_FUA, NbdWire.CMD_WRITE_ZEROES, 8, 0, 512, null);
      assertEquals(NbdWire.EPERM, c.reply().error());
    }
  }
}
