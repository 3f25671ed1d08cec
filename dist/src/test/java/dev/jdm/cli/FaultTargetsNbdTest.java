package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * dust, flakey and unstriped as a client sees them: a real daemon serving NBD, driven with the jdm
 * command, read and written with qemu-io, nbdsh and nbdcopy.
 */
class FaultTargetsNbdTest {
  private static final int MIB = 1 << 20;

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

  private Path randomFile(String name, int bytes, long seed) throws Exception {
    byte[] b = new byte[bytes];
    new Random(seed).nextBytes(b);
    return Files.write(dir.resolve(name), b);
  }

  @Test
  void dustBadBlocksFailQemuIoReadsUntilWritten() throws Exception {
    Path disk = jdm.file("disk.img", 8 * MIB);
    jdm.jdm("create", "dust1", "--table", "0 16384 dust " + disk + " 0 512");
    jdm.jdm("message", "dust1", "0", "addbadblock", "60");
    jdm.jdm("message", "dust1", "0", "addbadblock", "67");
    assertTrue(jdm.qemuIo("dust1", "read 30720 512").contains("read 512/512 bytes"),
        "bypass mode reads bad blocks");
    jdm.jdm("message", "dust1", "0", "enable");
    assertEquals("0 16384 dust " + disk + " fail_read_on_bad_block verbose\n",
        jdm.jdm("status", "dust1").lines().findFirst().orElseThrow() + "\n");
    assertTrue(jdm.qemuIo("dust1", "read 30720 512").contains("Input/output error"),
        "block 60 fails");
    assertTrue(jdm.qemuIo("dust1", "read 0 64k").contains("Input/output error"),
        "a read over block 60 fails");
    assertTrue(jdm.qemuIo("dust1", "read 31232 512").contains("read 512/512"), "block 61 reads");
    assertEquals("dust_query_block: block 67 found in badblocklist\n",
        jdm.jdm("message", "dust1", "0", "queryblock", "67"));

    String wrote = jdm.qemuIo("dust1", "write -P 0xab 30720 512");
    assertTrue(wrote.contains("wrote 512/512"), wrote);
    assertTrue(jdm.qemuIo("dust1", "read -P 0xab 30720 512").contains("read 512/512"),
        "the write cleared block 60 and its data reads back");
    assertEquals("countbadblocks: 1 badblock(s) found\n",
        jdm.jdm("message", "dust1", "0", "countbadblocks"));
    jdm.jdm("message", "dust1", "0", "quiet");
    assertTrue(jdm.jdm("status", "dust1").startsWith(
        "0 16384 dust " + disk + " fail_read_on_bad_block quiet\n"));
    assertEquals("jdm: dust1: dust: block 60 not found in badblocklist",
        jdm.tryJdm("message", "dust1", "0", "removebadblock", "60").failed());
    assertEquals("dust_clear_badblocks: badblocks cleared\n",
        jdm.jdm("message", "dust1", "0", "clearbadblocks"));
    assertTrue(jdm.qemuIo("dust1", "read 34304 512").contains("read 512/512"));
  }

  @Test
  void flakeyWindowsAlternateForAClient() throws Exception {
    Path disk = jdm.file("disk.img", 4 * MIB);
    jdm.jdm("create", "fl", "--table", "0 8192 flakey " + disk + " 0 1 1");
    // One client reads every 100 ms for 3.5 s and notes each change between success and EIO:
    // it sees two up and two down windows at least, whichever came first.
    String seen = jdm.nbdsh("fl", """
        import time
        seen = ''
        end = time.monotonic() + 3.5
        while time.monotonic() < end:
            try:
                h.pread(512, 0)
                c = 'u'
            except nbd.Error as e:
                c = 'd' if e.errnum == errno.EIO else '?'
            if not seen.endswith(c):
                seen += c
            time.sleep(0.1)
        print(seen)
        """.replace("import time", "import time, errno"));
    assertTrue(seen.strip().matches("(ud|du){2}[ud]*"), "windows seen: " + seen);
  }

  @Test
  void flakeyFeaturesAsAClientSeesThemWhileDown() throws Exception {
    Path disk = randomFile("disk.img", 4 * MIB, 1);
    byte[] old = Files.readAllBytes(disk);
    String down = " " + disk + " 0 0 1";

    jdm.jdm("create", "all", "--table", "0 8192 flakey" + down);
    assertTrue(jdm.qemuIo("all", "read 0 4k").contains("Input/output error"));
    assertTrue(jdm.qemuIo("all", "write 0 4k").contains("Input/output error"));
    jdm.jdm("remove", "all");

    jdm.jdm("create", "dw", "--table", "0 8192 flakey" + down + " 1 drop_writes");
    assertTrue(jdm.qemuIo("dw", "write -P 0x5a 8192 4096").contains("wrote 4096/4096"),
        "a dropped write succeeds");
    String back = jdm.nbdsh("dw", "print(h.pread(4096, 8192).hex())").strip();
    assertEquals(java.util.HexFormat.of().formatHex(Arrays.copyOfRange(old, 8192, 8192 + 4096)),
        back, "and the old data reads back");
    jdm.jdm("remove", "dw");

    jdm.jdm("create", "ew", "--table", "0 8192 flakey" + down + " 1 error_writes");
    assertTrue(jdm.qemuIo("ew", "write 0 4k").contains("Input/output error"));
    assertTrue(jdm.qemuIo("ew", "read 0 4k").contains("read 4096/4096"));
    jdm.jdm("remove", "ew");

    jdm.jdm("create", "er", "--table", "0 8192 flakey" + down + " 1 error_reads");
    assertTrue(jdm.qemuIo("er", "read 0 4k").contains("Input/output error"));
    assertTrue(jdm.qemuIo("er", "write -P 0x11 0 4k").contains("wrote 4096/4096"));
    assertEquals(0x11, Files.readAllBytes(disk)[100], "writes reach the device");
    jdm.jdm("remove", "er");

    // The kernel document's: the 32nd byte of each read becomes 1.
    jdm.jdm("create", "cr", "--table", "0 8192 flakey" + down + " 5 corrupt_bio_byte 32 r 1 0");
    byte[] now = Files.readAllBytes(disk);
    String read = jdm.nbdsh("cr", "b = h.pread(4096, 65536); print(b[30], b[31], b[32])").strip();
    assertEquals((now[65536 + 30] & 0xff) + " 1 " + (now[65536 + 32] & 0xff), read,
        "byte 32 of the read is 1, its neighbours are the disk's");
    jdm.jdm("remove", "cr");

    // Writes: the 224th byte of each write is stored as 0.
    jdm.jdm("create", "cw", "--table", "0 8192 flakey" + down + " 5 corrupt_bio_byte 224 w 0 0");
    assertTrue(jdm.qemuIo("cw", "write -P 0x77 131072 4096").contains("wrote 4096/4096"));
    byte[] stored = Files.readAllBytes(disk);
    for (int i = 0; i < 4096; i++) {
      assertEquals(i == 223 ? 0 : 0x77, stored[131072 + i] & 0xff, "byte " + i);
    }
    jdm.jdm("remove", "cw");

    // Random corruption, always: each read differs from the disk in at most one byte.
    jdm.jdm("create", "rr", "--table", "0 8192 flakey" + down + " 2 random_read_corrupt 1000000000");
    String diffs = jdm.nbdsh("rr", """
        ref = open('%s', 'rb').read(4096)
        out = []
        for i in range(20):
            b = h.pread(4096, 0)
            out.append(str(sum(1 for x, y in zip(b, ref) if x != y)))
        print(' '.join(out))
        """.formatted(disk)).strip();
    List<Integer> counts = Arrays.stream(diffs.split(" ")).map(Integer::parseInt).toList();
    assertTrue(counts.stream().allMatch(n -> n <= 1) && counts.stream().mapToInt(n -> n).sum() >= 10,
        "bytes changed per read: " + diffs);
  }

  @Test
  void unstripedGivesBackEachMemberOfAStripedDevice() throws Exception {
    // The kernel document's script, 4 members of 4 MiB with 128 KiB chunks.
    int n = 4;
    long member = 4 * MIB;
    StringBuilder raid = new StringBuilder("0 " + member * n / 512 + " striped " + n + " 256");
    Path[] members = new Path[n];
    for (int i = 0; i < n; i++) {
      members[i] = jdm.file("member-" + i, member);
      raid.append(' ').append(members[i]).append(" 0");
    }
    jdm.jdm("create", "raid0", "--table", raid.toString());
    for (int i = 0; i < n; i++) {
      assertEquals("jdm: set-" + i + ": unstriped: Target length not divisible by chunk size"
          + " (line 1)", jdm.daemon.pipe("0 1 unstriped 4 256 " + i
          + " /dev/mapper/raid0 0\n", "create", "set-" + i).failed(),
          "the script's own line: one sector is not a whole chunk (the kernel refuses it too)");
      jdm.daemon.pipe("0 " + member / 512 + " unstriped 4 256 " + i + " /dev/mapper/raid0 0\n",
          "create", "set-" + i).ok();
      Path data = randomFile("data-" + i, (int) member, 10 + i);
      jdm.tools.ok(List.of("nbdcopy", data.toString(), jdm.uri("set-" + i)), 120);
      assertArrayEquals(Files.readAllBytes(data), Files.readAllBytes(members[i]),
          "set-" + i + " is member-" + i);
    }
    for (int i = 0; i < n; i++) {
      jdm.jdm("remove", "set-" + i);
    }
    jdm.jdm("remove", "raid0");
  }
}
