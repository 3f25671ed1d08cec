package dev.jdm.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The real NBD clients (libnbd's tools, qemu's, fio) against the server over real devices. */
@Timeout(600)
class RealClientsTest {
  private static final long MIB = 1 << 20;
  private NbdFixture fx;

  @BeforeEach
  void start() throws Exception {
    fx = NbdFixture.start();
  }

  @AfterEach
  void stop() throws Exception {
    fx.close();
  }

  @Test
  void nbdinfoShowsSizeFlagsAndContextsAsConfigured() throws Exception {
    fx.linear("disk", fx.file("disk.img", 64 * MIB));
    fx.create("ro", "0 2048 linear " + fx.file("ro.img", MIB) + " 0", true);
    fx.create("zeros", "0 4096 zero", false);

    String rw = fx.ok(List.of("nbdinfo", "--json", fx.uri("disk")), 60);
    assertTrue(rw.contains("\"export-name\": \"disk\""), rw);
    assertTrue(rw.contains("\"export-size\": " + 64 * MIB), rw);
    assertTrue(rw.contains("\"base:allocation\""), rw);
    for (String flag : List.of("can_flush", "can_fua", "can_trim", "can_zero", "can_fast_zero",
        "can_multi_conn", "can_cache", "can_df")) {
      assertTrue(rw.contains("\"" + flag + "\": true"), flag + " in " + rw);
    }
    assertTrue(rw.contains("\"is_read_only\": false"), rw);
    assertTrue(rw.contains("\"block_size_minimum\": 512"), rw);
    assertTrue(rw.contains("\"block_size_preferred\": 4096"), rw);
    assertTrue(rw.contains("\"block_size_maximum\": 33554432"), rw);

    String ro = fx.ok(List.of("nbdinfo", "--json", fx.uri("ro")), 60);
    assertTrue(ro.contains("\"is_read_only\": true"), ro);
    assertTrue(ro.contains("\"can_trim\": false"), ro);
    assertTrue(ro.contains("\"can_zero\": false"), ro);
    assertTrue(ro.contains("\"export-size\": " + MIB), ro);

    String zero = fx.ok(List.of("nbdinfo", "--map", fx.uri("zeros")), 60);
    assertTrue(zero.matches("(?s)\\s*0\\s+2097152\\s+3\\s+hole,zero\\s*"), zero);

    String list = fx.ok(List.of("nbdinfo", "--list", "nbd+unix://?socket=" + fx.socket), 60);
    for (String name : List.of("disk", "ro", "zeros")) {
      assertTrue(list.contains("export=\"" + name + "\""), list);
    }
    assertTrue(list.contains("description: jdm device ro (linear, read-only)"), list);
  }

  @Test
  void blockStatusReportsHolesOfASparseFileAndNothingForTheErrorTarget() throws Exception {
    Path f = fx.file("sparse.img", 16 * MIB);
    fx.linear("sparse", f);
    fx.create("bad", "0 2048 error", false);
    fx.ok(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x5a 4M 1M", fx.uri("sparse")), 60);
    String map = fx.ok(List.of("nbdinfo", "--map", fx.uri("sparse")), 60);
    assertTrue(map.matches("(?s)\\s*0\\s+4194304\\s+3\\s+hole,zero\\s+4194304\\s+1048576\\s+0"
        + "\\s+data\\s+5242880\\s+11534336\\s+3\\s+hole,zero\\s*"), map);
    String bad = fx.ok(List.of("nbdinfo", "--map", fx.uri("bad")), 60);
    assertTrue(bad.matches("(?s)\\s*0\\s+1048576\\s+0\\s+data\\s*"), bad);
  }

  @Test
  void nbdcopy64MiBInAndOut() throws Exception {
    Path backing = fx.file("disk.img", 64 * MIB);
    fx.linear("disk", backing);
    Path source = fx.randomFile("source.bin", 64 * MIB);
    Path back = fx.dir.resolve("back.bin");
    fx.ok(List.of("nbdcopy", source.toString(), fx.uri("disk")), 300);
    fx.ok(List.of("nbdcopy", fx.uri("disk"), back.toString()), 300);
    String want = NbdFixture.sha256(source);
    assertEquals(want, NbdFixture.sha256(back), "copied out");
    assertEquals(want, NbdFixture.sha256(backing), "backing file");
  }

  @Test
  void qemuIoPatternsAndQemuImgCompare() throws Exception {
    Path backing = fx.file("disk.img", 32 * MIB);
    fx.linear("disk", backing);
    String out = fx.ok(List.of("qemu-io", "-f", "raw",
        "-c", "write -P 0xab 0 1M",
        "-c", "write -P 0xcd 5M 64k",
        "-c", "write -z 1M 1M",
        "-c", "aio_write -P 0x11 8M 512",
        "-c", "aio_flush",
        "-c", "read -P 0xab 0 1M",
        "-c", "read -P 0xcd 5M 64k",
        "-c", "read -P 0 1M 1M",
        "-c", "read -P 0x11 8M 512",
        fx.uri("disk")), 120);
    assertTrue(!out.contains("Pattern verification failed") && !out.contains("failed"), out);
    String cmp = fx.ok(List.of("qemu-img", "compare", "-f", "raw", "-F", "raw", fx.uri("disk"),
        backing.toString()), 120);
    assertTrue(cmp.contains("Images are identical"), cmp);
  }

  @Test
  void fioVerifiesOnLinearStripedMultiSegmentAndStackedDevices() throws Exception {
    fx.linear("lin", fx.file("lin.img", 64 * MIB));
    Path a = fx.file("a.img", 32 * MIB);
    Path b = fx.file("b.img", 32 * MIB);
    fx.create("striped", "0 131072 striped 2 128 " + a + " 0 " + b + " 0", false);
    Path c = fx.file("c.img", 32 * MIB);
    Path d = fx.file("d.img", 32 * MIB);
    fx.create("segments", "0 65536 linear " + c + " 0\n65536 65536 linear " + d + " 0", false);
    fx.linear("lower", fx.file("lower.img", 64 * MIB));
    fx.create("stacked", "0 131072 linear /dev/mapper/lower 0", false);
    for (String dev : List.of("lin", "striped", "segments", "stacked")) {
      String out = fx.ok(List.of("fio", "--name=verify-" + dev, "--ioengine=nbd",
          "--uri=" + fx.uri(dev), "--rw=randwrite", "--bs=4k", "--bsrange=4k-256k",
          "--iodepth=16", "--size=64M", "--verify=crc32c", "--verify_fatal=1", "--do_verify=1",
          "--verify_state_save=0",
          "--randrepeat=0"), 300);
      assertTrue(out.contains("err= 0"), dev + ": " + out);
    }
  }

  @Test
  void eightClientsAtOnceOnOneExport() throws Exception {
    Path backing = fx.file("disk.img", 64 * MIB);
    fx.linear("disk", backing);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<String>> runs = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        String off = (i * 8) + "M";
        String pattern = String.valueOf(0x10 + i);
        runs.add(pool.submit(() -> fx.ok(List.of("qemu-io", "-f", "raw",
            "-c", "write -P " + pattern + " " + off + " 8M",
            "-c", "flush",
            "-c", "read -P " + pattern + " " + off + " 8M", fx.uri("disk")), 300)));
      }
      for (Future<String> r : runs) {
        assertTrue(!r.get().contains("failed"), r.get());
      }
    } finally {
      pool.shutdownNow();
    }
    byte[] all = Files.readAllBytes(backing);
    for (int i = 0; i < 8; i++) {
      for (int j = i * 8 * (int) MIB; j < (i + 1) * 8 * (int) MIB; j += 4096) {
        assertEquals((byte) (0x10 + i), all[j], "client " + i + " at " + j);
      }
    }
  }

  @Test
  void nbdfuseLoopMkfsMountCopyFsck() throws Exception {
    fx.linear("fs", fx.file("fs.img", 128 * MIB));
    Path mnt = Files.createDirectory(fx.dir.resolve("fuse"));
    Path fsMnt = Files.createDirectory(fx.dir.resolve("mnt"));
    Path pid = fx.dir.resolve("nbdfuse.pid");
    String loop = null;
    boolean mounted = false;
    Process fuse = fx.spawn(List.of("nbdfuse", "-P", pid.toString(), mnt + "/disk",
        fx.uri("fs")), fx.dir.resolve("nbdfuse.log"));
    try {
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (!Files.exists(pid) && fuse.isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(100);
      }
      assertTrue(Files.exists(pid), () -> "nbdfuse did not start: " + log(fx.dir));
      loop = fx.ok(List.of("losetup", "-f", "--show", mnt + "/disk"), 60).trim();
      fx.ok(List.of("mkfs.ext4", "-q", "-F", loop), 300);
      fx.ok(List.of("mount", loop, fsMnt.toString()), 60);
      mounted = true;
      Path data = fx.randomFile("payload.bin", 20 * MIB);
      fx.ok(List.of("cp", data.toString(), fsMnt + "/payload.bin"), 120);
      fx.ok(List.of("sync"), 120);
      assertEquals(NbdFixture.sha256(data), NbdFixture.sha256(fsMnt.resolve("payload.bin")));
      fx.ok(List.of("umount", fsMnt.toString()), 120);
      mounted = false;
      String fsck = fx.ok(List.of("e2fsck", "-fn", loop), 300);
      assertTrue(fsck.contains("clean") || fsck.contains("files"), fsck);
    } finally {
      if (mounted) {
        fx.run(List.of("umount", "-l", fsMnt.toString()), 60);
      }
      if (loop != null) {
        fx.run(List.of("losetup", "-d", loop), 60);
      }
      fx.run(List.of("fusermount3", "-u", mnt.toString()), 60);
      fuse.destroy();
    }
  }

  private static String log(Path dir) {
    try {
      return Files.readString(dir.resolve("nbdfuse.log"));
    } catch (Exception e) {
      return e.toString();
    }
  }
}
