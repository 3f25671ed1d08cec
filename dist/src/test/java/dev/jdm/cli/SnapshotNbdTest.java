package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.ExternalTools;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshots end to end: {@code jdm snapshot} on a running daemon, fio and nbdcopy on the devices
 * through the NBD frontend's Unix socket, checksums of the snapshots before and after.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class SnapshotNbdTest {
  private static final long SECTORS = 131072;

  @TempDir Path dir;
  private InProcessDaemon d;
  private ExternalTools tools;
  private Path socket;
  private Path image;

  @BeforeEach
  void start() throws Exception {
    socket = dir.resolve("nbd.sock");
    d = InProcessDaemon.start(dir, "frontends.nbd { enabled = true, listen = [\"unix:" + socket
        + "\"] }");
    tools = new ExternalTools(dir);
    image = dir.resolve("base.img");
    byte[] data = new byte[(int) (SECTORS * 512)];
    new Random(1).nextBytes(data);
    Files.write(image, data);
    d.jdm("create", "base", "--table", "0 " + SECTORS + " linear " + image + " 0").ok();
  }

  @AfterEach
  void stop() throws Exception {
    try {
      tools.close();
    } finally {
      d.close();
    }
  }

  private String uri(String device) {
    return "nbd+unix:///" + device + "?socket=" + socket;
  }

  /** SHA-256 of the whole device, read by nbdcopy. */
  private String sha(String device) throws Exception {
    Path copy = dir.resolve(device + ".copy");
    try {
      tools.ok(List.of("nbdcopy", uri(device), copy.toString()), 300);
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      return HexFormat.of().formatHex(md.digest(Files.readAllBytes(copy)));
    } finally {
      Files.deleteIfExists(copy);
    }
  }

  /** fio writes 4 regions of 4 MiB in 4 KiB blocks at random, then verifies them (crc32c). */
  private void fio(String device, int seed) throws Exception {
    fio(device, seed, "4m");
  }

  /** As {@link #fio(String, int)}, {@code size} per region. */
  private void fio(String device, int seed, String size) throws Exception {
    String out = tools.ok(List.of("fio", "--name=verify", "--ioengine=nbd", "--uri=" + uri(device),
        "--rw=randwrite", "--bs=4k", "--size=" + size, "--offset_increment=16m", "--numjobs=4",
        "--iodepth=4", "--randseed=" + seed, "--verify=crc32c", "--verify_fatal=1",
        "--do_verify=1", "--verify_state_save=0", "--group_reporting"), 600);
    assertTrue(out.contains("err= 0"), out);
  }

  private String status(String device) {
    return d.jdm("status", device).ok().lines().findFirst().orElseThrow();
  }

  @Test
  void fioOnTheOriginLeavesEachOfThreeSnapshotsAtItsMoment() throws Exception {
    String real = "0 " + SECTORS + " linear " + image + " 0";
    String moment0 = sha("base");
    assertEquals(
        "base-real: " + real + "\n"
            + "s1: 0 " + SECTORS + " snapshot /dev/mapper/base-real " + dir.resolve("c1")
            + " P 8\n"
            + "base: 0 " + SECTORS + " snapshot-origin /dev/mapper/base-real\n",
        d.jdm("snapshot", "s1", "base", "--cow", dir.resolve("c1").toString(), "--size", "24M")
            .ok());
    assertEquals(real + "\n", d.jdm("table", "base-real").ok());
    assertEquals(moment0, sha("s1"));
    assertEquals("0 " + SECTORS + " snapshot 16/49152 16", status("s1"));

    fio("base", 1);
    String moment1 = sha("base");
    assertEquals(
        "s2: 0 " + SECTORS + " snapshot /dev/mapper/base-real " + dir.resolve("c2") + " P 8\n"
            + "base: 0 " + SECTORS + " snapshot-origin /dev/mapper/base-real\n",
        d.jdm("snapshot", "s2", "base", "--cow", dir.resolve("c2").toString(), "--size", "24M")
            .ok());
    fio("base", 2);
    String moment2 = sha("base");
    d.jdm("snapshot", "s3", "base", "--cow", dir.resolve("c3").toString(), "--size", "24M").ok();
    fio("base", 3);

    assertNotEquals(moment0, moment1);
    assertNotEquals(moment1, moment2);
    assertEquals(moment0, sha("s1"), "snapshot 1 reads the data of its moment");
    assertEquals(moment1, sha("s2"), "snapshot 2 reads the data of its moment");
    assertEquals(moment2, sha("s3"), "snapshot 3 reads the data of its moment");
    // 4096 chunks of 4 KiB copied, after the header and 16 metadata areas.
    assertTrue(status("s1").matches("0 " + SECTORS + " snapshot 32\\d\\d\\d/49152 \\d+"),
        status("s1"));

    String origin = sha("base");
    fio("s2", 4);
    assertEquals(origin, sha("base"), "writes to a snapshot do not reach the origin");
    assertEquals(moment0, sha("s1"));
    assertEquals(moment2, sha("s3"));
  }

  @Test
  void mergeBringsTheOriginBackToTheSnapshot() throws Exception {
    d.jdm("snapshot", "snap", "base", "--cow", dir.resolve("cow").toString(), "--size", "24M")
        .ok();
    // The merge copies and commits one run of chunks at a time, and random writes leave short
    // runs: keep it small.
    fio("base", 5, "256k");
    fio("snap", 6, "256k");
    String snapshot = sha("snap");
    String real = "0 " + SECTORS + " linear " + image + " 0";
    assertEquals(
        "base: 0 " + SECTORS + " snapshot-merge /dev/mapper/base-real " + dir.resolve("cow")
            + " P 8\n"
            + "base: " + real + "\n",
        d.jdm("snapshot", "merge", "snap").ok());
    assertEquals(snapshot, sha("base"));
    assertEquals(real + "\n", d.jdm("table", "base").ok());
    assertEquals("base\t(253:0)\n", d.jdm("ls").ok().replaceAll("\\(253:\\d+\\)", "(253:0)"));
  }

  @Test
  void aFullCowMakesTheSnapshotInvalidAndTheOriginGoesOn() throws Exception {
    d.jdm("snapshot", "snap", "base", "--cow", dir.resolve("cow").toString(), "--size", "1M")
        .ok();
    String events = event("snap");
    fio("base", 7);
    assertEquals("0 " + SECTORS + " snapshot Invalid", status("snap"));
    assertNotEquals(events, event("snap"), "an event when the snapshot became invalid");
    assertTrue(tools.run(List.of("nbdcopy", uri("snap"), dir.resolve("x").toString()), 120)
        .exit() != 0, "the invalid snapshot fails I/O");
    Files.deleteIfExists(dir.resolve("x"));
    fio("base", 8);
  }

  @Test
  void aFullPoCowOverflowsOnASnapshotWrite() throws Exception {
    d.jdm("snapshot", "snap", "base", "--cow", dir.resolve("cow").toString(), "--size", "24M")
        .ok();
    Path small = dir.resolve("small");
    try (RandomAccessFile f = new RandomAccessFile(small.toFile(), "rw")) {
      f.setLength(1 << 20);
    }
    d.jdm("create", "po", "--table",
        "0 " + SECTORS + " snapshot /dev/mapper/base-real " + small + " PO 8").ok();
    String events = event("po");
    String before = sha("po");
    assertTrue(tools.run(List.of("fio", "--name=fill", "--ioengine=nbd", "--uri=" + uri("po"),
        "--rw=write", "--bs=64k", "--size=4m"), 300).exit() != 0, "writes past the COW fail");
    assertEquals("0 " + SECTORS + " snapshot Overflow", status("po"));
    assertNotEquals(events, event("po"));
    assertNotEquals(before, sha("po"), "what fitted was written; reads still work");
    fio("base", 9);
    // As the kernel: an origin write that finds no room invalidates even a PO snapshot.
    assertEquals("0 " + SECTORS + " snapshot Invalid", status("po"));
  }

  @Test
  void aFailedStepIsTakenBack() throws Exception {
    String table = "0 " + SECTORS + " linear " + image + " 0\n";
    d.jdm("create", "taken", "--table", "0 8 zero").ok();
    CliResult r = d.jdm("snapshot", "taken", "base", "--cow", dir.resolve("cow").toString(),
        "--size", "8M");
    assertTrue(r.failed().startsWith("jdm: taken: "), r.err());
    assertEquals(table, d.jdm("table", "base").ok(), "the origin keeps its table");
    String info = d.jdm("info", "base").ok();
    assertTrue(info.matches("(?s).*State:\\s+ACTIVE\n.*Tables present:\\s+LIVE\n.*"), info);
    assertEquals(List.of("base", "taken"), d.jdm("ls").ok().lines()
        .map(l -> l.split("\t")[0]).sorted().toList(), "no base-real left");
    assertEquals("jdm: " + dir.resolve("none") + ": No such file (give --size to create it)",
        d.jdm("snapshot", "s", "base", "--cow", dir.resolve("none").toString()).failed());
    assertEquals(2, d.jdm("snapshot", "s", "base", "--cow", dir.resolve("c").toString(),
        "--size", "8M", "--chunk", "3").code());
    assertEquals("jdm: base: not a snapshot", d.jdm("snapshot", "merge", "base").failed());
  }

  private String event(String device) {
    return d.jdm("info", device).ok().lines().filter(l -> l.startsWith("Event number"))
        .findFirst().orElseThrow();
  }
}
