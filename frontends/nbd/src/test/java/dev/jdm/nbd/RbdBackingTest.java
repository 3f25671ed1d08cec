package dev.jdm.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.kernel.DmException;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.spi.IoStatus;
import dev.jdm.testkit.BlockIo;
import dev.jdm.testkit.CephCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * jdm devices over Ceph RBD images through librbd. Needs a real single-node Ceph cluster, which
 * {@link CephCluster} starts on 127.0.0.1 (and fails the tests when it cannot).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(600)
class RbdBackingTest {
  private static final long MIB = 1 << 20;
  private CephCluster ceph;
  private NbdFixture fx;

  @BeforeAll
  void startCluster() throws Exception {
    ceph = CephCluster.start(1536 * MIB);
  }

  @AfterAll
  void stopCluster() throws Exception {
    if (ceph != null) {
      ceph.close();
    }
  }

  @BeforeEach
  void start() throws Exception {
    fx = NbdFixture.start("jdm.kernel.rbd.connect-timeout = 5s");
  }

  @AfterEach
  void stop() throws Exception {
    fx.close();
  }

  private void fioVerifies(String device, String size) throws Exception {
    String out = fx.ok(List.of("fio", "--name=verify-" + device, "--ioengine=nbd",
        "--uri=" + fx.uri(device), "--rw=randwrite", "--bsrange=4k-256k", "--iodepth=16",
        "--size=" + size, "--verify=crc32c", "--verify_fatal=1", "--do_verify=1",
        "--verify_state_save=0", "--randrepeat=0"), 600);
    assertTrue(out.contains("err= 0"), device + ": " + out);
  }

  @Test
  void fioVerifiesALinearOverOneImage() throws Exception {
    ceph.createImage("one", "256M");
    fx.create("lin", "0 524288 linear " + ceph.path("one") + " 0", false);
    fioVerifies("lin", "256M");
    fx.mapper.remove("lin", false);
    // What jdm wrote is in the image: rbd reads the same bytes back.
    Path exported = fx.dir.resolve("one.raw");
    ceph.rbd("export", "rbd/one", exported.toString());
    assertEquals(256 * MIB, Files.size(exported));
  }

  @Test
  void fioVerifiesAStripeOverFourImages() throws Exception {
    StringBuilder table = new StringBuilder("0 524288 striped 4 128");
    for (int i = 0; i < 4; i++) {
      ceph.createImage("s" + i, "64M");
      table.append(' ').append(ceph.path("s" + i)).append(" 0");
    }
    fx.create("stripe", table.toString(), false);
    fioVerifies("stripe", "256M");
  }

  @Test
  void blockStatusShowsWhatWasWrittenAndASnapshotIsReadOnly() throws Exception {
    ceph.createImage("sparse", "16M");
    fx.create("sparse", "0 32768 linear " + ceph.path("sparse") + " 0", false);
    fx.ok(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x5a 4M 1M", fx.uri("sparse")), 60);
    String map = fx.ok(List.of("nbdinfo", "--map", fx.uri("sparse")), 60);
    assertTrue(map.matches("(?s)\\s*0\\s+4194304\\s+3\\s+hole,zero\\s+4194304\\s+1048576\\s+0"
        + "\\s+data\\s+5242880\\s+11534336\\s+3\\s+hole,zero\\s*"), map);

    ceph.rbd("snap", "create", "rbd/sparse@before");
    fx.ok(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x77 4M 1M", fx.uri("sparse")), 60);
    String snap = "rbd:rbd/sparse@before:conf=" + ceph.conf();
    MappedDevice old = fx.create("old", "0 32768 linear " + snap + " 0", true);
    BlockIo io = new BlockIo(old);
    assertEquals(0x5a, io.read(8192, 4096)[100]);
    assertEquals(IoStatus.EPERM, io.write(8192, new byte[4096]));
    DmException rw = assertThrows(DmException.class,
        () -> fx.create("rw", "0 32768 linear " + snap + " 0", false));
    assertTrue(rw.getMessage().contains("Device lookup failed: " + snap + ": read-only"),
        rw.getMessage());
  }

  @Test
  void whatCannotBeOpenedFailsWithOneClearLine() throws Exception {
    DmException image = assertThrows(DmException.class,
        () -> fx.create("x", "0 8 linear " + ceph.path("nosuch") + " 0", false));
    assertTrue(image.getMessage().equals("x: linear: Device lookup failed: "
        + ceph.path("nosuch") + ": no image 'nosuch' in pool rbd (line 1)"), image.getMessage());
    assertTrue(!image.getMessage().contains("\n"), image.getMessage());

    DmException pool = assertThrows(DmException.class, () -> fx.create("x",
        "0 8 linear rbd:nopool/img:conf=" + ceph.conf() + " 0", false));
    assertTrue(pool.getMessage().endsWith(": no pool 'nopool' (line 1)"), pool.getMessage());

    Path elsewhere = fx.dir.resolve("nowhere.conf");
    Files.writeString(elsewhere, "[global]\nmon host = v2:127.0.0.1:9\nauth client required"
        + " = none\n");
    DmException cluster = assertThrows(DmException.class, () -> fx.create("x",
        "0 8 linear rbd:rbd/img:conf=" + elsewhere + " 0", false));
    assertTrue(cluster.getMessage().contains("Device lookup failed: rbd:rbd/img:conf="
        + elsewhere + ": cannot connect to the Ceph cluster of " + elsewhere), cluster.getMessage());
    assertEquals(0, fx.mapper.openBackingDevices());
  }
}
