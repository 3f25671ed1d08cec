package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.daemon.ControlProtocol;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control socket under clients that stall or send too much: a bounded number of requests at
 * once with a clear "busy", stalled ones cut off, and a table file that is no table refused by
 * the CLI before it reaches the daemon.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class ControlLimitsTest {
  @TempDir java.nio.file.Path tmp;

  @Test
  void stalledRequestsAreBoundedAndCutOff() throws Exception {
    try (InProcessDaemon d = InProcessDaemon.start(tmp,
        "control { max-requests = 2, request-timeout = 5s }")) {
      // Warm the command line up, so that its first run does not outlast the timeout.
      d.jdm("ls").ok();
      List<SocketChannel> stalled = new ArrayList<>();
      try {
        for (int i = 0; i < 2; i++) {
          SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(
              d.runtimeDir().resolve(ControlProtocol.SOCKET)));
          // One string of 16 MiB announced, four bytes of it sent: then nothing.
          c.write(ByteBuffer.allocate(12).putInt(1).putInt(ControlProtocol.MAX_BYTES).putInt(0)
              .flip());
          stalled.add(c);
        }
        // The stalled requests take both places as soon as the daemon has read their start.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        CliResult r;
        while ((r = d.jdm("ls")).code() == 0) {
          assertTrue(System.nanoTime() < deadline, "never busy");
          Thread.sleep(20);
        }
        assertEquals("jdm: the daemon is busy: 2 control requests are being answered"
            + " (jdm.control.max-requests); try again", r.failed());
        while ((r = d.jdm("ls")).code() != 0) {
          assertTrue(System.nanoTime() < deadline, "stalled requests never cut off: " + r);
          Thread.sleep(200);
        }
        assertEquals("No devices found\n", r.ok());
        for (SocketChannel c : stalled) {
          ByteBuffer reply = ByteBuffer.allocate(256);
          while (c.read(reply) >= 0) {
            // the daemon's answer, then the end of the stream
          }
          String told = new String(reply.array(), 0, reply.position(),
              java.nio.charset.StandardCharsets.UTF_8);
          assertTrue(told.contains("not whole within 5.0s"), told);
        }
      } finally {
        for (SocketChannel c : stalled) {
          c.close();
        }
      }
    }
  }

  @Test
  void aTableFileThatIsNoTableIsRefusedByTheCli() throws Exception {
    try (InProcessDaemon d = InProcessDaemon.start(tmp, "")) {
      d.jdm("create", "d", "--table", "0 8 zero").ok();
      assertEquals("jdm: /dev/zero: more than 16 MiB: too long for a table (is it one?)",
          d.jdm("reload", "d", "/dev/zero").failed());
      assertEquals("", d.jdm("table", "--inactive", "d").ok());
    }
  }
}
