package dev.jdm.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class ControlProtocolTest {
  private static List<String> roundTrip(List<String> strings) throws IOException {
    var bytes = new java.io.ByteArrayOutputStream();
    ControlProtocol.write(Channels.newChannel(bytes), strings);
    return ControlProtocol.read(Channels.newChannel(
        new java.io.ByteArrayInputStream(bytes.toByteArray())));
  }

  private static ReadableByteChannel raw(int... words) {
    ByteBuffer b = ByteBuffer.allocate(4 * words.length);
    for (int w : words) {
      b.putInt(w);
    }
    return Channels.newChannel(new java.io.ByteArrayInputStream(b.array()));
  }

  @Test
  void stringsComeBackAsTheyWent() throws IOException {
    List<String> s = List.of(ControlProtocol.VERSION, "create", "", "0 8 zero\n8 8 error\n",
        "ü ∑ 😀", "x".repeat(100_000));
    assertEquals(s, roundTrip(s));
    assertEquals(List.of(), roundTrip(List.of()));
    List<String> many = new ArrayList<>(Collections.nCopies(ControlProtocol.MAX_STRINGS, "a"));
    assertEquals(many, roundTrip(many));
  }

  @Test
  void aListBreakingTheLimitsIsRefused() {
    assertTrue(assertThrows(IOException.class, () -> ControlProtocol.read(raw(-1))).getMessage()
        .startsWith("bad string count 4294967295"));
    assertTrue(assertThrows(IOException.class,
        () -> ControlProtocol.read(raw(ControlProtocol.MAX_STRINGS + 1))).getMessage()
        .startsWith("bad string count"));
    assertTrue(assertThrows(IOException.class,
        () -> ControlProtocol.read(raw(1, ControlProtocol.MAX_BYTES + 1))).getMessage()
        .startsWith("string 0 too long"));
    assertEquals("message cut short", assertThrows(IOException.class,
        () -> ControlProtocol.read(raw(2, 0))).getMessage());
    assertEquals("message cut short", assertThrows(IOException.class,
        () -> ControlProtocol.read(raw(1, 10))).getMessage());
    List<String> many = new ArrayList<>(Collections.nCopies(ControlProtocol.MAX_STRINGS + 1, ""));
    assertThrows(IOException.class, () -> roundTrip(many));
  }

  @Test
  void anAnnouncedLengthReservesNothingBeforeItsBytesArrive() {
    var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long me = Thread.currentThread().threadId();
    // A string of MAX_BYTES announced, ten bytes sent, then the client stalls (here: ends).
    ByteBuffer b = ByteBuffer.allocate(8 + 10).putInt(1).putInt(ControlProtocol.MAX_BYTES);
    ReadableByteChannel stalled = Channels.newChannel(
        new java.io.ByteArrayInputStream(b.array()));
    long before = mx.getThreadAllocatedBytes(me);
    assertEquals("message cut short", assertThrows(IOException.class,
        () -> ControlProtocol.read(stalled)).getMessage());
    long took = mx.getThreadAllocatedBytes(me) - before;
    assertTrue(took < 1 << 20, "reading ten bytes of an announced string took " + took + " bytes");
  }

  @Test
  void aReplyIsExitCodeOutputAndError() throws IOException {
    ControlProtocol.Reply r = ControlProtocol.Reply.failed("jdm: x: No such device");
    assertEquals(r, ControlProtocol.Reply.of(roundTrip(r.strings())));
    assertEquals(List.of("1", "", "jdm: x: No such device\n"), r.strings());
    assertThrows(IOException.class, () -> ControlProtocol.Reply.of(List.of("0", "")));
    assertThrows(IOException.class, () -> ControlProtocol.Reply.of(List.of("zero", "", "")));
  }
}
