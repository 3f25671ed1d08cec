package dev.jdm.nbd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.nbd.NbdTestClient.OptionReply;
import dev.jdm.nbd.NbdTestClient.Reply;
import dev.jdm.nbd.protocol.NbdWire;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Bad input of every kind against one running server, while a well-behaved client keeps writing
 * and verifying its data on another export. Each case gets the reply proto.md prescribes, or the
 * connection is closed; afterwards the server still serves and the good client saw no error.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.MethodName.class)
@Timeout(120)
class MalformedInputTest {
  private static final int MAX = 1 << 20;
  private static final int CLOSE_WAIT = 30;
  private NbdFixture fx;
  private Thread good;
  private final AtomicBoolean stop = new AtomicBoolean();
  private final AtomicLong verified = new AtomicLong();
  private final AtomicReference<Throwable> goodFailure = new AtomicReference<>();
  private NbdTestClient c;

  @BeforeAll
  void startServerAndGoodClient() throws Exception {
    // Blocking sockets here (the default polls), so bad input meets that read path too.
    fx = NbdFixture.start("jdm.frontends.nbd { max-payload = 1MiB, poll-spin = 0 }");
    fx.linear("good", fx.file("good.img", 16 << 20));
    fx.linear("disk", fx.file("disk.img", 4 << 20));
    fx.create("ro", "0 2048 linear " + fx.file("ro.img", 1 << 20) + " 0", true);
    fx.create("bad", "0 2048 error", false);
    good = Thread.ofPlatform().name("good client").start(this::goodClient);
  }

  /** Writes random blocks and reads each back until told to stop; any difference is a failure. */
  private void goodClient() {
    Random r = new Random(42);
    try (NbdTestClient g = NbdTestClient.open(fx.socket, "good", true, false)) {
      while (!stop.get()) {
        int len = 512 * (1 + r.nextInt(128));
        long off = 512L * r.nextInt((16 << 20) / 512 - 128);
        byte[] data = new byte[len];
        r.nextBytes(data);
        assertEquals(0, g.write(off, data).error());
        Reply back = g.readAt(off, len);
        assertEquals(0, back.error());
        assertArrayEquals(data, back.data(), "good client's data at " + off);
        verified.incrementAndGet();
      }
      g.disconnect();
    } catch (Throwable t) {
      goodFailure.set(t);
    }
  }

  @AfterAll
  void goodClientSawNothingWrong() throws Exception {
    try {
      stop.set(true);
      good.join(60_000);
      assertNull(goodFailure.get(), () -> "good client failed: " + goodFailure.get());
      assertTrue(verified.get() > 0, "the good client verified nothing");
      try (NbdTestClient after = NbdTestClient.open(fx.socket, "disk", true, true)) {
        assertEquals(0, after.readAt(0, 4096).error(), "server still serves");
      }
    } finally {
      fx.close();
    }
  }

  @BeforeEach
  void connect() throws Exception {
    c = NbdTestClient.connect(fx.socket);
  }

  @AfterEach
  void disconnect() throws Exception {
    c.close();
  }

  private void transmission(String export, boolean structured, boolean meta) throws Exception {
    c.close();
    c = NbdTestClient.open(fx.socket, export, structured, meta);
  }

  private OptionReply optionAfterGreeting(int option, byte[] data) throws Exception {
    c.greet();
    return c.optionAll(option, data).getLast();
  }

  private Reply request(int flags, int type, long offset, long length, byte[] payload)
      throws Exception {
    c.request(flags, type, 7, offset, length, payload);
    Reply r = c.reply();
    assertEquals(7, r.cookie());
    return r;
  }

  /** The connection still works after the bad request: the next one gets its answer. */
  private void stillInSync() throws Exception {
    Reply r = c.readAt(0, 512);
    assertEquals(0, r.error(), "request after the bad one");
    assertEquals(512, r.data().length);
  }

  // ------------------------------------------------------------------------------ handshake

  @Test
  void h01_garbageInsteadOfClientFlags() throws Exception {
    c.read(18);
    c.sendRaw("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    assertTrue(c.closedByServer(CLOSE_WAIT));
  }

  @Test
  void h02_unknownClientFlags() throws Exception {
    c.read(18);
    c.sendRaw(new byte[] {0, 0, 0, (byte) 0xff});
    assertTrue(c.closedByServer(CLOSE_WAIT));
  }

  @Test
  void h03_truncatedClientFlagsThenGone() throws Exception {
    c.read(18);
    c.sendRaw(new byte[] {0, 0});
    c.close();
  }

  @Test
  void h04_badOptionMagic() throws Exception {
    c.greet();
    c.sendRaw(ByteBuffer.allocate(16).putLong(0x1122334455667788L).putInt(3).putInt(0).array());
    assertTrue(c.closedByServer(CLOSE_WAIT));
  }

  @Test
  void h05_optionLongerThanTheServerTakes() throws Exception {
    c.greet();
    c.sendRaw(ByteBuffer.allocate(16).putLong(NbdWire.IHAVEOPT).putInt(NbdWire.OPT_GO)
        .putInt(100_000_000).array());
    assertTrue(c.closedByServer(CLOSE_WAIT));
  }

  @Test
  void h06_unknownOptionIsUnsupportedAndTheLoopGoesOn() throws Exception {
    assertEquals(NbdWire.REP_ERR_UNSUP, optionAfterGreeting(99, new byte[] {1, 2, 3}).type());
    List<OptionReply> list = c.optionAll(NbdWire.OPT_LIST, new byte[0]);
    assertEquals(NbdWire.REP_ACK, list.getLast().type());
    assertEquals(5, list.size(), "four exports and the ACK");
  }

  @Test
  void h07_listWithData() throws Exception {
    assertEquals(NbdWire.REP_ERR_INVALID, optionAfterGreeting(NbdWire.OPT_LIST, new byte[4]).type());
  }

  @Test
  void h08_goUnknownExport() throws Exception {
    OptionReply r = optionAfterGreeting(NbdWire.OPT_GO, NbdTestClient.goData("nosuch"));
    assertEquals(NbdWire.REP_ERR_UNKNOWN, r.type());
    assertTrue(r.text().contains("nosuch"), r.text());
  }

  @Test
  void h09_goNameLongerThanTheOption() throws Exception {
    byte[] d = ByteBuffer.allocate(10).putInt(1000).put("ab".getBytes()).putShort((short) 0)
        .putShort((short) 0).array();
    assertEquals(NbdWire.REP_ERR_INVALID, optionAfterGreeting(NbdWire.OPT_GO, d).type());
  }

  @Test
  void h10_goInfoListOfOddLength() throws Exception {
    byte[] d = ByteBuffer.allocate(13).putInt(4).put("disk".getBytes()).putShort((short) 2)
        .put((byte) 0).array();
    assertEquals(NbdWire.REP_ERR_INVALID, optionAfterGreeting(NbdWire.OPT_GO, d).type());
  }

  @Test
  void h11_infoNameNotUtf8() throws Exception {
    byte[] d = ByteBuffer.allocate(9).putInt(3).put(new byte[] {(byte) 0xff, (byte) 0xfe, 0x41})
        .putShort((short) 0).array();
    assertEquals(NbdWire.REP_ERR_INVALID, optionAfterGreeting(NbdWire.OPT_INFO, d).type());
  }

  @Test
  void h12_setMetaContextBeforeStructuredReplies() throws Exception {
    assertEquals(NbdWire.REP_ERR_INVALID, optionAfterGreeting(NbdWire.OPT_SET_META_CONTEXT,
        NbdTestClient.metaQuery("disk", NbdWire.BASE_ALLOCATION)).type());
  }

  @Test
  void h13_setMetaContextWithATruncatedQuery() throws Exception {
    c.greet();
    c.expectAck(NbdWire.OPT_STRUCTURED_REPLY, new byte[0]);
    byte[] q = NbdTestClient.metaQuery("disk", NbdWire.BASE_ALLOCATION);
    byte[] cut = Arrays.copyOf(q, q.length - 3);
    assertEquals(NbdWire.REP_ERR_INVALID,
        c.optionAll(NbdWire.OPT_SET_META_CONTEXT, cut).getLast().type());
  }

  @Test
  void h14_startTlsWhenTlsIsOff() throws Exception {
    assertEquals(NbdWire.REP_ERR_POLICY, optionAfterGreeting(NbdWire.OPT_STARTTLS, new byte[0])
        .type());
    assertEquals(NbdWire.REP_ACK, c.optionAll(NbdWire.OPT_LIST, new byte[0]).getLast().type());
  }

  @Test
  void h15_structuredRepliesTwice() throws Exception {
    c.greet();
    c.expectAck(NbdWire.OPT_STRUCTURED_REPLY, new byte[0]);
    assertEquals(NbdWire.REP_ERR_INVALID,
        c.optionAll(NbdWire.OPT_STRUCTURED_REPLY, new byte[0]).getLast().type());
  }

  @Test
  void h16_exportNameOfAnUnknownExportEndsTheSession() throws Exception {
    c.greet();
    c.sendOption(NbdWire.OPT_EXPORT_NAME, "nosuch".getBytes());
    assertTrue(c.closedByServer(CLOSE_WAIT));
  }

  @Test
  void h17_truncatedOptionHeaderThenGone() throws Exception {
    c.greet();
    c.sendRaw(ByteBuffer.allocate(10).putLong(NbdWire.IHAVEOPT).putShort((short) 0).array());
    c.close();
  }

  @Test
  void h18_abortIsAcknowledgedAndClosed() throws Exception {
    assertEquals(NbdWire.REP_ACK, optionAfterGreeting(NbdWire.OPT_ABORT, new byte[0]).type());
    assertTrue(c.closedByServer(CLOSE_WAIT));
  }

  @Test
  void h19_emptyNameWithManyDevicesAndNoDefault() throws Exception {
    assertEquals(NbdWire.REP_ERR_UNKNOWN,
        optionAfterGreeting(NbdWire.OPT_GO, NbdTestClient.goData("")).type());
  }

  @Test
  void h20_listMetaContextOfAnUnknownNamespaceFindsNothing() throws Exception {
    c.greet();
    c.expectAck(NbdWire.OPT_STRUCTURED_REPLY, new byte[0]);
    List<OptionReply> r = c.optionAll(NbdWire.OPT_LIST_META_CONTEXT,
        NbdTestClient.metaQuery("disk", "x-nosuch:thing"));
    assertEquals(1, r.size());
    assertEquals(NbdWire.REP_ACK, r.getFirst().type());
  }

  @Test
  void h21_silentClientIsCutOffByTheHandshakeTimeoutNotBefore() throws Exception {
    c.read(18);
    assertTrue(!c.closedByServer(1), "closed too early");
  }

  // --------------------------------------------------------------------------- transmission

  @Test
  void t01_badRequestMagic() throws Exception {
    transmission("disk", true, false);
    c.sendRaw(ByteBuffer.allocate(28).putInt(0xdeadbeef).array());
    assertTrue(c.closedByServer(CLOSE_WAIT));
  }

  @Test
  void t02_unknownCommand() throws Exception {
    transmission("disk", true, false);
    assertEquals(NbdWire.EINVAL, request(0, 42, 0, 512, null).error());
    stillInSync();
  }

  @Test
  void t03_readPastTheEnd() throws Exception {
    transmission("disk", false, false);
    assertEquals(NbdWire.EINVAL, request(0, NbdWire.CMD_READ, 4 << 20, 512, null).error());
    stillInSync();
  }

  @Test
  void t04_writePastTheEndKeepsTheStreamInStep() throws Exception {
    transmission("disk", false, false);
    assertEquals(NbdWire.ENOSPC,
        request(0, NbdWire.CMD_WRITE, (4 << 20) - 512, 1024, new byte[1024]).error());
    stillInSync();
  }

  @Test
  void t05_unalignedRead() throws Exception {
    transmission("disk", true, false);
    Reply r = request(0, NbdWire.CMD_READ, 100, 512, null);
    assertEquals(NbdWire.EINVAL, r.error());
    assertEquals(List.of(NbdWire.REPLY_TYPE_ERROR), r.chunkTypes());
    assertTrue(r.message().contains("not aligned"), r.message());
    stillInSync();
  }

  @Test
  void t06_zeroLengthRead() throws Exception {
    transmission("disk", false, false);
    assertEquals(NbdWire.EINVAL, request(0, NbdWire.CMD_READ, 0, 0, null).error());
    stillInSync();
  }

  @Test
  void t07_readAboveTheMaximumPayload() throws Exception {
    transmission("disk", false, false);
    assertEquals(NbdWire.EINVAL, request(0, NbdWire.CMD_READ, 0, 2 * MAX, null).error());
    stillInSync();
  }

  @Test
  void t08_writeAboveTheMaximumPayloadIsSkippedAndRefused() throws Exception {
    transmission("disk", false, false);
    assertEquals(NbdWire.EINVAL, request(0, NbdWire.CMD_WRITE, 0, 2 * MAX, new byte[2 * MAX])
        .error());
    stillInSync();
  }

  @Test
  void t09_writeFarAboveAnySafePayloadCloses() throws Exception {
    transmission("disk", false, false);
    c.request(0, NbdWire.CMD_WRITE, 7, 0, 0x80000000L, null);
    assertTrue(c.closedByServer(CLOSE_WAIT));
  }

  @Test
  void t10_writeToAReadOnlyExport() throws Exception {
    transmission("ro", false, false);
    assertEquals(NbdWire.EPERM, request(0, NbdWire.CMD_WRITE, 0, 512, new byte[512]).error());
    stillInSync();
  }

  @Test
  void t11_trimOnAReadOnlyExport() throws Exception {
    transmission("ro", false, false);
    assertEquals(NbdWire.EPERM, request(0, NbdWire.CMD_TRIM, 0, 512, null).error());
    assertEquals(NbdWire.EPERM, request(0, NbdWire.CMD_WRITE_ZEROES, 0, 512, null).error());
    stillInSync();
  }

  @Test
  void t12_unknownFlagsOnRead() throws Exception {
    transmission("disk", false, false);
    assertEquals(NbdWire.EINVAL, request(0x40, NbdWire.CMD_READ, 0, 512, null).error());
    stillInSync();
  }

  @Test
  void t13_dontFragmentWithoutStructuredReplies() throws Exception {
    transmission("disk", false, false);
    assertEquals(NbdWire.EINVAL,
        request(NbdWire.CMD_FLAG_DF, NbdWire.CMD_READ, 0, 512, null).error());
    stillInSync();
  }

  @Test
  void t14_blockStatusWithoutAContext() throws Exception {
    transmission("disk", true, false);
    assertEquals(NbdWire.EINVAL, request(0, NbdWire.CMD_BLOCK_STATUS, 0, 4096, null).error());
    stillInSync();
  }

  @Test
  void t15_flushWithAnOffset() throws Exception {
    transmission("disk", false, false);
    assertEquals(NbdWire.EINVAL, request(0, NbdWire.CMD_FLUSH, 512, 0, null).error());
    assertEquals(0, request(0, NbdWire.CMD_FLUSH, 0, 0, null).error());
  }

  @Test
  void t16_clientVanishesInTheMiddleOfAWrite() throws Exception {
    transmission("disk", false, false);
    assertEquals(0, request(0, NbdWire.CMD_WRITE, 8192, 512, filled(512, 0x33)).error());
    c.request(0, NbdWire.CMD_WRITE, 9, 0, 65536, null);
    c.sendRaw(new byte[1000]);
    c.close();
    try (NbdTestClient again = NbdTestClient.open(fx.socket, "disk", false, false)) {
      assertArrayEquals(filled(512, 0x33), again.readAt(8192, 512).data());
    }
  }

  @Test
  void t17_truncatedRequestHeaderThenGone() throws Exception {
    transmission("disk", false, false);
    c.sendRaw(ByteBuffer.allocate(12).putInt(NbdWire.REQUEST_MAGIC).array());
    c.close();
  }

  @Test
  void t18_readFromTheErrorTargetIsAnIoErrorWithAMessage() throws Exception {
    transmission("bad", true, false);
    Reply r = request(0, NbdWire.CMD_READ, 0, 4096, null);
    assertEquals(NbdWire.EIO, r.error());
    assertTrue(r.message().contains("EIO"), r.message());
    assertEquals(NbdWire.EIO, c.readAt(0, 512).error(), "still an error, still answered");
  }

  @Test
  void t19_cacheInsideAndPastTheEnd() throws Exception {
    transmission("disk", false, false);
    assertEquals(0, request(0, NbdWire.CMD_CACHE, 0, 1 << 20, null).error());
    assertEquals(NbdWire.EINVAL, request(0, NbdWire.CMD_CACHE, 4 << 20, 512, null).error());
  }

  @Test
  void t20_blockStatusPastTheEnd() throws Exception {
    transmission("disk", true, true);
    assertEquals(NbdWire.EINVAL, request(0, NbdWire.CMD_BLOCK_STATUS, 4 << 20, 512, null)
        .error());
    Reply ok = request(NbdWire.CMD_FLAG_REQ_ONE, NbdWire.CMD_BLOCK_STATUS, 0, 4096, null);
    assertEquals(0, ok.error());
    assertEquals(1, ok.extents().size());
    assertTrue(ok.extents().getFirst()[0] <= 4096);
  }

  @Test
  void t21_requestsAfterDisconnectAreNotAnswered() throws Exception {
    transmission("disk", false, false);
    c.disconnect();
    try {
      c.request(0, NbdWire.CMD_READ, 1, 0, 512, null);
    } catch (java.io.IOException closedAlready) {
      // The server may close as soon as it has read the DISC: the request never gets in.
      return;
    }
    assertTrue(c.closedByServer(CLOSE_WAIT));
  }

  @Test
  void t22_readUnalignedLength() throws Exception {
    transmission("disk", false, false);
    assertEquals(NbdWire.EINVAL, request(0, NbdWire.CMD_READ, 0, 1000, null).error());
    stillInSync();
  }

  @Test
  void t23_writeZeroesPastTheEnd() throws Exception {
    transmission("disk", false, false);
    assertEquals(NbdWire.ENOSPC, request(0, NbdWire.CMD_WRITE_ZEROES, 4 << 20, 4096, null)
        .error());
    stillInSync();
  }

  @Test
  void t24_offsetWithTheTopBitSet() throws Exception {
    transmission("disk", false, false);
    assertEquals(NbdWire.EINVAL, request(0, NbdWire.CMD_READ, 0x8000000000000000L, 512, null)
        .error());
    stillInSync();
  }

  @Test
  void t25_hugeTrimIsRefusedPastTheEndAndDoneInside() throws Exception {
    transmission("disk", false, false);
    assertEquals(NbdWire.EINVAL, request(0, NbdWire.CMD_TRIM, 0, 0xfffffe00L, null).error());
    assertEquals(0, request(0, NbdWire.CMD_TRIM, 0, 4 << 20, null).error());
    stillInSync();
  }

  @Test
  void t26_manyRequestsInOneBurstAllAnswered() throws Exception {
    transmission("disk", true, false);
    int n = 500;
    ByteBuffer burst = ByteBuffer.allocate(n * 28);
    for (int i = 0; i < n; i++) {
      burst.putInt(NbdWire.REQUEST_MAGIC).putShort((short) 0).putShort((short) NbdWire.CMD_READ)
          .putLong(1000 + i).putLong(512L * i).putInt(512);
    }
    c.sendRaw(burst.array());
    boolean[] seen = new boolean[n];
    for (int i = 0; i < n; i++) {
      Reply r = c.reply();
      assertEquals(0, r.error());
      seen[(int) (r.cookie() - 1000)] = true;
    }
    for (boolean s : seen) {
      assertTrue(s);
    }
  }

  private static byte[] filled(int n, int value) {
    byte[] b = new byte[n];
    Arrays.fill(b, (byte) value);
    return b;
  }
}
