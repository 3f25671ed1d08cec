package dev.jdm.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.kernel.DmException;
import dev.jdm.nbd.NbdTestClient.OptionReply;
import dev.jdm.nbd.NbdTestClient.Reply;
import dev.jdm.nbd.protocol.NbdWire;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetType;
import dev.jdm.spi.Version;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Protocol behaviour that needs a close look: ordering, exports coming and going, options. */
@Timeout(120)
class ProtocolTest {
  private NbdFixture fx;

  @AfterEach
  void stop() throws Exception {
    if (fx != null) {
      fx.close();
    }
  }

  /** A test target type whose segments map every request with {@code map}. */
  record MapType(String name, Function<IoRequest, MapResult> map) implements TargetType {
    @Override
    public Version version() {
      return Version.of(1, 0, 0);
    }

    @Override
    public String usage() {
      return "";
    }

    @Override
    public Target create(TargetContext context, long lengthInSectors, List<String> args) {
      return new Target() {
        @Override
        public MapResult map(IoRequest request) {
          return map.apply(request);
        }

        @Override
        public String status(StatusType type) {
          return "";
        }
      };
    }
  }

  @Test
  void repliesGoOutOfOrderWhenAnEarlierRequestIsSlow() throws Exception {
    fx = NbdFixture.start();
    // Holds every request until the test lets it go: completion on another thread.
    BlockingQueue<IoRequest> held = new LinkedBlockingQueue<>();
    fx.registry.register(new MapType("gate", r -> {
      held.add(r);
      return MapResult.SUBMITTED;
    }), "test");
    fx.create("mixed", "0 8 gate\n8 2040 zero", false);
    try (NbdTestClient c = NbdTestClient.open(fx.socket, "mixed", true, false)) {
      c.request(0, NbdWire.CMD_READ, 1, 0, 4096, null);
      IoRequest slow = held.poll(30, TimeUnit.SECONDS);
      assertNotNull(slow, "the first read reached the gate");
      c.request(0, NbdWire.CMD_READ, 2, 4096, 4096, null);
      Reply first = c.reply();
      assertEquals(2, first.cookie(), "the later read is answered first");
      assertArrayEquals(new byte[4096], first.data());
      for (int i = 0; i < slow.bytes(); i++) {
        slow.data().put(slow.dataOffset() + i, (byte) 0x77);
      }
      slow.complete(IoStatus.OK);
      Reply second = c.reply();
      assertEquals(1, second.cookie());
      assertEquals(0x77, second.data()[4095]);
    }
  }

  @Test
  void aSlowDeviceGetsSeveralThreadsOfOneConnection() throws Exception {
    fx = NbdFixture.start();
    // Takes its time on the calling thread, and counts how many requests run at once.
    AtomicInteger running = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    fx.registry.register(new MapType("slow", r -> {
      most.accumulateAndGet(running.incrementAndGet(), Math::max);
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      running.decrementAndGet();
      r.fillZeros();
      r.complete(IoStatus.OK);
      return MapResult.SUBMITTED;
    }), "test");
    fx.create("slow", "0 2048 slow", false);
    try (NbdTestClient c = NbdTestClient.open(fx.socket, "slow", true, false)) {
      for (int i = 0; i < 24; i++) {
        c.request(0, NbdWire.CMD_READ, i, 4096L * i, 4096, null);
      }
      for (int i = 0; i < 24; i++) {
        assertEquals(0, c.reply().error());
      }
    }
    assertTrue(most.get() >= 2, "requests of one client ran " + most.get()
        + " at a time on a slow device");
  }

  @Test
  void pipelinedWritesOfMixedSizesLandIntact() throws Exception {
    fx = NbdFixture.start();
    fx.linear("disk", fx.file("disk.img", 64 << 20));
    Random r = new Random(7);
    byte[] expected = new byte[64 << 20];
    try (NbdTestClient c = NbdTestClient.open(fx.socket, "disk", true, false)) {
      Map<Long, Integer> pending = new HashMap<>();
      long off = 0;
      for (int i = 0; i < 300; i++) {
        int len = 512 * (1 + r.nextInt(i % 10 == 0 ? 4096 : 64));
        if (off + len > expected.length) {
          break;
        }
        byte[] data = new byte[len];
        r.nextBytes(data);
        System.arraycopy(data, 0, expected, (int) off, len);
        c.request(i % 3 == 0 ? NbdWire.CMD_FLAG_FUA : 0, NbdWire.CMD_WRITE, i, off, len, data);
        pending.put((long) i, len);
        off += len;
        if (pending.size() >= 48) {
          Reply rep = c.reply();
          assertEquals(0, rep.error());
          assertNotNull(pending.remove(rep.cookie()));
        }
      }
      while (!pending.isEmpty()) {
        Reply rep = c.reply();
        assertEquals(0, rep.error());
        assertNotNull(pending.remove(rep.cookie()));
      }
      for (long at = 0; at < off; at += 1 << 20) {
        int len = (int) Math.min(1 << 20, off - at);
        Reply back = c.readAt(at, len);
        byte[] want = new byte[len];
        System.arraycopy(expected, (int) at, want, 0, len);
        assertArrayEquals(want, back.data(), "at " + at);
      }
    }
  }

  @Test
  void aConnectedClientHoldsItsDeviceAndForceMakesItsRequestsFail() throws Exception {
    fx = NbdFixture.start();
    fx.linear("held", fx.file("held.img", 1 << 20));
    try (NbdTestClient busy = NbdTestClient.open(fx.socket, "held", false, false);
        NbdTestClient idle = NbdTestClient.open(fx.socket, "held", true, false)) {
      assertEquals(0, busy.readAt(0, 512).error());
      assertEquals(2, fx.mapper.get("held").info().openCount());
      DmException e = assertThrows(DmException.class, () -> fx.mapper.remove("held", false));
      assertEquals("held: Device or resource busy: open count 2", e.getMessage());
      assertFalse(fx.mapper.remove("held", true, false), "removal waits for the clients");
      assertEquals(NbdWire.EIO, busy.readAt(0, 512).error());
      assertEquals(NbdWire.EIO, idle.readAt(0, 512).error());
    }
    fx.awaitRemoved("held");
  }

  @Test
  void clientsOfADeviceRemovedByTheDaemonStoppingGetEshutdownAndAreCutOff() throws Exception {
    fx = NbdFixture.start("jdm.frontends.nbd.shutdown-grace = 1s");
    fx.linear("doomed", fx.file("doomed.img", 1 << 20));
    try (NbdTestClient busy = NbdTestClient.open(fx.socket, "doomed", false, false);
        NbdTestClient idle = NbdTestClient.open(fx.socket, "doomed", true, false)) {
      assertEquals(0, busy.readAt(0, 512).error());
      fx.mapper.close();
      assertEquals(NbdWire.ESHUTDOWN, busy.readAt(0, 512).error());
      assertTrue(idle.closedByServer(30), "idle client of a removed device disconnected");
      assertTrue(busy.closedByServer(30), "busy client disconnected after the grace");
    }
  }

  @Test
  void devicesCreatedAndReloadedShowAtOnce() throws Exception {
    fx = NbdFixture.start();
    fx.create("first", "0 2048 zero", false);
    try (NbdTestClient c = NbdTestClient.connect(fx.socket)) {
      c.greet();
      assertEquals(2, c.optionAll(NbdWire.OPT_LIST, new byte[0]).size());
      fx.create("second", "0 4096 zero", false);
      List<OptionReply> list = c.optionAll(NbdWire.OPT_LIST, new byte[0]);
      assertEquals(3, list.size());
      fx.mapper.load("second", "0 8192 zero");
      fx.mapper.resume("second");
      List<OptionReply> info = c.optionAll(NbdWire.OPT_INFO, NbdTestClient.goData("second"));
      ByteBuffer export = ByteBuffer.wrap(info.getFirst().data());
      assertEquals(NbdWire.INFO_EXPORT, export.getShort());
      assertEquals(8192L * 512, export.getLong(), "the reloaded size");
    }
  }

  @Test
  void theEmptyNameIsTheDefaultExportAndItsNameIsSent() throws Exception {
    fx = NbdFixture.start("jdm.frontends.nbd.default-export = b");
    fx.create("a", "0 2048 zero", false);
    fx.create("b", "0 4096 zero", false);
    try (NbdTestClient c = NbdTestClient.connect(fx.socket)) {
      c.greet();
      List<OptionReply> go = c.optionAll(NbdWire.OPT_GO, NbdTestClient.goData(""));
      assertEquals(NbdWire.REP_ACK, go.getLast().type());
      boolean named = false;
      for (OptionReply r : go) {
        ByteBuffer b = ByteBuffer.wrap(r.data());
        if (r.type() == NbdWire.REP_INFO && b.getShort() == NbdWire.INFO_NAME) {
          named = "b".equals(StandardCharsets.UTF_8.decode(b).toString());
        }
      }
      assertTrue(named, "INFO_NAME says b");
    }
  }

  @Test
  void exportNameWithNoZeroesEntersTransmission() throws Exception {
    fx = NbdFixture.start();
    fx.linear("only", fx.file("only.img", 1 << 20));
    try (NbdTestClient c = NbdTestClient.connect(fx.socket)) {
      c.greet();
      c.sendOption(NbdWire.OPT_EXPORT_NAME, new byte[0]);
      ByteBuffer b = c.read(10);
      assertEquals(1 << 20, b.getLong());
      int flags = b.getShort() & 0xffff;
      assertEquals(0, flags & NbdWire.TF_SEND_DF, "no DF without structured replies");
      assertTrue((flags & NbdWire.TF_CAN_MULTI_CONN) != 0);
      assertEquals(0, c.write(0, new byte[512]).error());
    }
  }

  @Test
  void listMetaContextFindsBaseAllocationByNamespace() throws Exception {
    fx = NbdFixture.start();
    fx.create("z", "0 2048 zero", false);
    try (NbdTestClient c = NbdTestClient.connect(fx.socket)) {
      c.greet();
      c.expectAck(NbdWire.OPT_STRUCTURED_REPLY, new byte[0]);
      List<OptionReply> r = c.optionAll(NbdWire.OPT_LIST_META_CONTEXT,
          NbdTestClient.metaQuery("z", "base:"));
      assertEquals(2, r.size());
      assertTrue(r.getFirst().text().endsWith(NbdWire.BASE_ALLOCATION));
    }
  }

  @Test
  void aSilentClientIsDisconnectedAfterTheHandshakeTimeout() throws Exception {
    fx = NbdFixture.start("jdm.frontends.nbd.handshake-timeout = 1s");
    try (NbdTestClient c = NbdTestClient.connect(fx.socket)) {
      c.read(18);
      assertTrue(c.closedByServer(30));
    }
  }

  @Test
  void tcpListenersOnIpv4AndIpv6Loopback() throws Exception {
    fx = NbdFixture.start("jdm.frontends.nbd.listen = [\"127.0.0.1:0\", \"[::1]:0\"]");
    fx.create("z", "0 2048 zero", false);
    List<String> addresses = fx.server.addresses();
    assertEquals(2, addresses.size());
    assertTrue(fx.server.describe().startsWith("nbd on 127.0.0.1:"), fx.server.describe());
    for (String a : addresses) {
      String out = fx.ok(List.of("nbdinfo", "--size", "nbd://" + a + "/z"), 60);
      assertEquals("1048576", out.trim(), a);
    }
  }
}
