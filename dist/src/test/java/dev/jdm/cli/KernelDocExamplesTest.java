package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every table line of the kernel's {@code Documentation/admin-guide/device-mapper/} pages of delay,
 * dust, flakey, log-writes and unstriped, as written there with real files for the devices, given to
 * {@code jdm create} the way the page gives it to {@code dmsetup create}; each device then
 * serves I/O and prints its table back. (flakey's page gives feature words only: they are put in
 * whole lines. The unstriped script's {@code 0 1 unstriped} line, which the kernel refuses, is in
 * {@link FaultTargetsNbdTest}.)
 */
class KernelDocExamplesTest {
  private static final long MIB = 1 << 20;

  @TempDir Path dir;
  private NbdDaemon jdm;

  @BeforeEach
  void start() throws Exception {
    jdm = NbdDaemon.start(dir);
  }

  @AfterEach
  void stop() throws Exception {
    jdm.close();
  }

  /** {@code dmsetup create NAME --table LINE} as {@code jdm create}, then I/O and the table. */
  private void works(String name, String line) throws Exception {
    jdm.jdm("create", name, "--table", line);
    assertEquals(line + "\n", jdm.jdm("table", name), "the table prints back as given");
    String io = jdm.qemuIo(name, "write -P 0x3c 0 4k");
    assertTrue(io.contains("wrote 4096/4096"), name + ": " + io);
    io = jdm.qemuIo(name, "read -P 0x3c 0 4k");
    assertTrue(io.contains("read 4096/4096"), name + ": " + io);
  }

  /** {@code blockdev --getsz PATH} of a file. */
  private static long getsz(Path p) throws Exception {
    return Files.size(p) / 512;
  }

  @Test
  void delay() throws Exception {
    Path one = jdm.file("one", 16 * MIB);
    Path two = jdm.file("two", 16 * MIB);
    // "delaying read, write and flush operations for 500ms"
    works("delayed", "0 " + getsz(one) + " delay " + one + " 0 500");
    jdm.jdm("remove", "delayed");
    // "delaying write and flush operations for 400ms and splitting reads to device $1 but writes
    // and flushs to different device $2 to different offsets of 2048 and 4096 sectors"
    String split = "0 " + getsz(one) + " delay " + one + " 2048 0 " + two + " 4096 400";
    jdm.jdm("create", "delayed", "--table", split);
    assertEquals(split + "\n", jdm.jdm("table", "delayed"));
    long start = System.nanoTime();
    assertTrue(jdm.qemuIo("delayed", "write -P 0x3c 0 4k").contains("wrote 4096/4096"));
    assertTrue(System.nanoTime() - start >= 400_000_000L, "the write waited 400 ms");
    assertEquals(0x3c, Files.readAllBytes(two)[4096 * 512], "on $2 at sector 4096");
    assertTrue(jdm.qemuIo("delayed", "read -P 0 0 4k").contains("read 4096/4096"),
        "reads come from $1 at sector 2048");
    jdm.jdm("remove", "delayed");
    // "delaying reads for 50ms, writes for 100ms and flushs for 333ms onto the same backing
    // device at offset 0 sectors" (the page's line names $2 for the writes; reads of $1 find
    // what the first line wrote there)
    works("delayed", "0 " + getsz(one) + " delay " + one + " 0 50 " + two + " 0 100 " + one
        + " 0 333");
    assertTrue(jdm.jdm("status", "delayed").startsWith("0 " + getsz(one) + " delay 0 0 0\n"));
    jdm.jdm("remove", "delayed");
  }

  @Test
  void dust() throws Exception {
    // "For a device with a block size of 512 bytes" and "of 4096 bytes", on /dev/vdb1.
    Path vdb1 = jdm.file("vdb1", 33552384L * 512);
    works("dust1", "0 33552384 dust " + vdb1 + " 0 512");
    assertEquals("0 33552384 dust " + vdb1 + " bypass verbose\n",
        jdm.jdm("status", "dust1").lines().findFirst().orElseThrow() + "\n");
    jdm.jdm("message", "dust1", "0", "addbadblock", "60");
    jdm.jdm("message", "dust1", "0", "enable");
    assertTrue(jdm.qemuIo("dust1", "read 30720 512").contains("Input/output error"));
    jdm.jdm("remove", "dust1");
    works("dust1", "0 33552384 dust " + vdb1 + " 0 4096");
    jdm.jdm("remove", "dust1");
  }

  @Test
  void flakey() throws Exception {
    Path dev = jdm.file("dev.img", 16 * MIB);
    String base = "0 " + getsz(dev) + " flakey " + dev + " 0 5 5 ";
    // "Replaces the 32nd byte of READ bios with the value 1": corrupt_bio_byte 32 r 1 0
    works("fl1", base + "5 corrupt_bio_byte 32 r 1 0");
    // "Replaces the 224th byte of REQ_META (=32) bios with the value 0": corrupt_bio_byte 224 w 0 32
    works("fl2", base + "5 corrupt_bio_byte 224 w 0 32");
    jdm.jdm("remove", "fl1");
    jdm.jdm("remove", "fl2");
  }

  @Test
  void logWrites() throws Exception {
    Path sdb = jdm.file("sdb", 64 * MIB);
    Path sdc = jdm.file("sdc", 256 * MIB);
    // TABLE="0 $(blockdev --getsz /dev/sdb) log-writes /dev/sdb /dev/sdc"
    String table = "0 " + getsz(sdb) + " log-writes " + sdb + " " + sdc;
    works("log", table);
    jdm.jdm("message", "log", "0", "mark", "mkfs");
    // qemu-io flushes as it exits: the write, a flush for each qemu-io run, the mark.
    String status = jdm.jdm("status", "log");
    assertTrue(status.startsWith("0 " + getsz(sdb) + " log-writes 4 "), status);
    jdm.jdm("remove", "log");
    Path replayed = jdm.file("replayed", 64 * MIB);
    InProcessDaemon.run("", "log-writes", "replay", sdc.toString(), replayed.toString(),
        "--end-mark", "mkfs").ok();
    assertEquals(0x3c, Files.readAllBytes(replayed)[4095]);
  }

  @Test
  void unstriped() throws Exception {
    // "unstriped ontop of Intel NVMe device that has 2 cores"
    Path nvme = jdm.file("nvme0n1", 4 * MIB);
    works("nvmset0", "0 512 unstriped 2 256 0 " + nvme + " 0");
    works("nvmset1", "0 512 unstriped 2 256 1 " + nvme + " 0");
    byte[] img = Files.readAllBytes(nvme);
    assertEquals(0x3c, img[0], "core 0 holds LBA 0");
    assertEquals(0x3c, img[256 * 512], "core 1 holds LBA 256");
    jdm.jdm("remove", "nvmset0");
    jdm.jdm("remove", "nvmset1");

    // "unstriped ontop of striped with 4 drives using 128K chunk size"
    StringBuilder striped = new StringBuilder("0 " + 4 * 8 * MIB / 512 + " striped 4 256");
    for (int i = 0; i < 4; i++) {
      striped.append(' ').append(jdm.file("drive" + i, 8 * MIB)).append(" 0");
    }
    jdm.jdm("create", "striped", "--table", striped.toString());
    for (int i = 0; i < 4; i++) {
      works("raid_disk" + i, "0 512 unstriped 4 256 " + i + " /dev/mapper/striped 0");
      assertEquals(0x3c, Files.readAllBytes(dir.resolve("drive" + i))[0], "drive " + i);
    }
    for (String name : List.of("raid_disk0", "raid_disk1", "raid_disk2", "raid_disk3",
        "striped")) {
      jdm.jdm("remove", name);
    }
  }
}
