package dev.jdm.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.ExternalTools;
import dev.jdm.testkit.Nbdkit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * jdm devices over remote NBD exports (nbdkit's, and another jdm's), driven through this NBD
 * server by real clients: fio verifying every block while a remote server is killed and started
 * again, nbdinfo showing the remote holes.
 */
@Timeout(600)
class RemoteBackingTest {
  private static final long MIB = 1 << 20;
  private NbdFixture fx;

  @BeforeEach
  void start() throws Exception {
    fx = NbdFixture.start("jdm.kernel.nbd { reconnect-delay = 50ms, reconnect-delay-max = 500ms,"
        + " reconnect-timeout = 10s }");
  }

  @AfterEach
  void stop() throws Exception {
    fx.close();
  }

  private static String fio(String name, String uri, String size) {
    return String.join(" ", List.of("fio", "--name=" + name, "--ioengine=nbd", "--uri=" + uri,
        "--rw=randwrite", "--bsrange=4k-64k", "--iodepth=16", "--size=" + size,
        "--verify=crc32c", "--verify_fatal=1", "--do_verify=1", "--verify_state_save=0",
        "--randrepeat=0"));
  }

  @Test
  void fioVerifiesAStripeOverTwoNbdkitExportsWhileOneIsKilledAndRestarted() throws Exception {
    Path a = fx.file("a.img", 256 * MIB);
    Path b = fx.file("b.img", 256 * MIB);
    try (Nbdkit kitA = Nbdkit.start(fx.dir, "a", List.of("file", a.toString()));
        Nbdkit kitB = Nbdkit.start(fx.dir, "b", List.of("file", b.toString()))) {
      fx.create("stripe", "0 1048576 striped 2 128 " + kitA.uri() + " 0 " + kitB.uri() + " 0",
          false);
      List<String> bothUp = List.of(kitA.uri() + " connected, 2 connection(s)",
          kitB.uri() + " connected, 2 connection(s)");
      assertEquals(bothUp, awaitStatus("stripe", bothUp));
      Path log = fx.dir.resolve("fio.log");
      Process fio = fx.spawn(List.of("sh", "-c", fio("stripe", fx.uri("stripe"), "384M")), log);
      Thread.sleep(1500);
      assertTrue(fio.isAlive(), "fio ended before the server was killed: "
          + Files.readString(log));
      long events = fx.mapper.get("stripe").info().eventNumber();
      kitA.kill();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      List<String> during = fx.mapper.remoteStatus("stripe");
      while (!during.getFirst().startsWith(kitA.uri() + " reconnecting")
          && System.nanoTime() < deadline) {
        Thread.sleep(50);
        during = fx.mapper.remoteStatus("stripe");
      }
      assertTrue(during.getFirst().startsWith(kitA.uri() + " reconnecting"), during.toString());
      // Losing the connections is an event of the device (jdm wait wakes up).
      assertTrue(fx.mapper.get("stripe").awaitEvent(events, 5000) > events, "no event");
      Thread.sleep(1200);
      kitA.start();
      Thread.sleep(1000);
      kitB.kill();
      Thread.sleep(1000);
      kitB.start();
      assertTrue(fio.waitFor(400, TimeUnit.SECONDS), "fio did not finish: " + Files.readString(log));
      String out = Files.readString(log);
      assertEquals(0, fio.exitValue(), out);
      assertTrue(out.contains("err= 0") && !out.contains("verify:") && !out.contains("bad magic"),
          out);
      assertEquals(bothUp, awaitStatus("stripe", bothUp));
    }
  }

  /** The device's remote status once it is {@code want}, or as it is after 20 s. */
  private List<String> awaitStatus(String device, List<String> want) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    List<String> now = fx.mapper.remoteStatus(device);
    while (!now.equals(want) && System.nanoTime() < deadline) {
      Thread.sleep(50);
      now = fx.mapper.remoteStatus(device);
    }
    return now;
  }

  @Test
  void nbdinfoMapShowsTheHolesOfTheRemoteExport() throws Exception {
    try (Nbdkit kit = Nbdkit.start(fx.dir, "mem", List.of("memory", "16M"))) {
      fx.create("remote", "0 32768 linear " + kit.uri() + " 0", false);
      fx.ok(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x5a 4M 1M", fx.uri("remote")), 60);
      String map = fx.ok(List.of("nbdinfo", "--map", fx.uri("remote")), 60);
      assertTrue(map.matches("(?s)\\s*0\\s+4194304\\s+3\\s+hole,zero\\s+4194304\\s+1048576\\s+0"
          + "\\s+data\\s+5242880\\s+11534336\\s+3\\s+hole,zero\\s*"), map);
      // What jdm wrote is in the remote export, seen by another client.
      String direct = fx.ok(List.of("nbdinfo", "--map", kit.uri()), 60);
      assertTrue(direct.contains("4194304") && direct.contains("data"), direct);
    }
  }

  @Test
  void stacksOnAnotherJdmAndSaysWhenItsServerIsGone() throws Exception {
    NbdFixture remote = NbdFixture.start();
    try {
      remote.linear("disk", remote.file("disk.img", 64 * MIB));
      String uri = remote.uri("disk");
      fx.create("over", "0 131072 linear " + uri + " 0", false);
      String out = fx.ok(List.of("sh", "-c", fio("over", fx.uri("over"), "64M")), 300);
      assertTrue(out.contains("err= 0"), out);
      assertEquals(List.of(uri + " connected, 2 connection(s)"), fx.mapper.remoteStatus("over"));
      String qemu = fx.ok(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x33 0 64k",
          fx.uri("over")), 60);
      assertTrue(!qemu.contains("failed"), qemu);
      assertEquals(0x33, Files.readAllBytes(remote.dir.resolve("disk.img"))[4095]);
    } finally {
      remote.close();
    }
    List<String> gone = fx.mapper.remoteStatus("over");
    assertTrue(gone.getFirst().contains(" reconnecting, "), gone.toString());
    ExternalTools.Result read = fx.run(List.of("qemu-io", "-f", "raw", "-c", "read 0 4k",
        fx.uri("over")), 120);
    assertTrue(read.out().contains("Input/output error") || read.err().contains("Input/output"),
        "a read waits for the remote jdm up to jdm.kernel.nbd.reconnect-timeout, then fails: "
        + read);
  }
}
