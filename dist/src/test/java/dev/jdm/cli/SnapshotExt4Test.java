package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.ExternalTools;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshots of an ext4 filesystem, through the FUSE frontend and loop devices: a snapshot taken
 * while a file is being copied checks clean with {@code e2fsck -fn}, and a merge runs while the
 * origin is mounted. The filesystem is frozen around {@code jdm snapshot}, as the kernel's
 * suspend freezes it for LVM ({@code jdm suspend} cannot reach a filesystem above a loop device).
 * Loop devices, mounts and processes are undone after each test, also when it fails.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class SnapshotExt4Test {
  private static final long SECTORS = 131072;

  @TempDir Path dir;
  private InProcessDaemon d;
  private ExternalTools tools;
  private Path fuse;
  private final List<String> loops = new ArrayList<>();
  private final Deque<Path> mounts = new ArrayDeque<>();

  /** A daemon with the FUSE frontend and {@code extra} config, and device base on a file. */
  private void start(String extra) throws Exception {
    for (String tool : List.of("losetup", "mount", "umount", "mkfs.ext4", "e2fsck", "fsfreeze")) {
      ExternalTools.require(tool);
    }
    tools = new ExternalTools(dir);
    fuse = Files.createDirectory(dir.resolve("fuse"));
    d = InProcessDaemon.start(dir, "frontends.fuse { enabled = true, mountpoint = \"" + fuse
        + "\" }\n" + extra);
    Path image = dir.resolve("base.img");
    try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(SECTORS * 512);
    }
    d.jdm("create", "base", "--table", "0 " + SECTORS + " linear " + image + " 0").ok();
  }

  @AfterEach
  void undo() throws Exception {
    if (tools == null) {
      return;
    }
    try {
      tools.close();
      ExternalTools cleanup = new ExternalTools(dir);
      try {
        while (!mounts.isEmpty()) {
          Path at = mounts.pop();
          if (cleanup.run(List.of("umount", at.toString()), 300).exit() != 0) {
            cleanup.run(List.of("umount", "-l", at.toString()), 300);
          }
        }
        for (String loop : loops) {
          cleanup.run(List.of("losetup", "-d", loop), 300);
        }
      } finally {
        cleanup.close();
      }
    } finally {
      d.close();
    }
  }

  private String ok(String... command) throws Exception {
    return tools.ok(List.of(command), 300);
  }

  private String losetup(String device, boolean readOnly) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("losetup", "-f", "--show"));
    if (readOnly) {
      cmd.add("-r");
    }
    cmd.add(fuse.resolve(device).toString());
    String loop = tools.ok(cmd, 300).strip();
    loops.add(loop);
    return loop;
  }

  private void detach(String loop) throws Exception {
    ok("losetup", "-d", loop);
    loops.remove(loop);
  }

  private Path mount(String loop, String name) throws Exception {
    Path at = Files.createDirectories(dir.resolve(name));
    ok("mount", loop, at.toString());
    mounts.push(at);
    return at;
  }

  private void umount(Path at) throws Exception {
    ok("umount", at.toString());
    mounts.remove(at);
  }

  private void fsck(String loop) throws Exception {
    ExternalTools.Result r = tools.run(List.of("e2fsck", "-fn", loop), 300);
    assertEquals(0, r.exit(), "e2fsck -fn found problems:\n" + r.out() + r.err());
  }

  private static byte[] random(int bytes, int seed) {
    byte[] b = new byte[bytes];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** A loop device over base, formatted ext4. */
  private String mkfs() throws Exception {
    String loop = losetup("base", false);
    ok("mkfs.ext4", "-q", loop);
    return loop;
  }

  @Test
  void aSnapshotTakenDuringAFileCopyChecksClean() throws Exception {
    start("");
    String loop = mkfs();
    Path fs = mount(loop, "base-fs");
    Path source = dir.resolve("source.bin");
    Files.write(source, random(24 << 20, 1));
    // Synchronous writes keep the copy going while the snapshot is taken.
    Process copy = tools.spawn(List.of("dd", "if=" + source, "of=" + fs.resolve("copy.bin"),
        "bs=64k", "oflag=dsync"), dir.resolve("dd.log"));
    while (copy.isAlive() && !Files.exists(fs.resolve("copy.bin"))) {
      Thread.sleep(20);
    }
    Thread.sleep(300);
    ok("fsfreeze", "-f", fs.toString());
    boolean copying = copy.isAlive();
    try {
      d.jdm("snapshot", "snap", "base", "--cow", dir.resolve("snap.cow").toString(), "--size",
          "48M").ok();
    } finally {
      ok("fsfreeze", "-u", fs.toString());
    }
    assertTrue(copy.waitFor(300, TimeUnit.SECONDS), "dd did not finish");
    assertEquals(0, copy.exitValue(), Files.readString(dir.resolve("dd.log")));
    assertTrue(copying, "the copy was still running when the snapshot was taken");
    assertArrayEquals(Files.readAllBytes(source), Files.readAllBytes(fs.resolve("copy.bin")));
    umount(fs);
    fsck(loop);

    String snap = losetup("snap", true);
    fsck(snap);
    Path view = Files.createDirectories(dir.resolve("snap-fs"));
    ok("mount", "-o", "ro,noload", snap, view.toString());
    mounts.push(view);
    long copied = Files.size(view.resolve("copy.bin"));
    assertTrue(copied < 24 << 20, "the snapshot holds the copy as it was: " + copied + " bytes");
    umount(view);
    detach(snap);
    detach(loop);
  }

  @Test
  void aMergeRunsWhileTheOriginIsMounted() throws Exception {
    // A slow copier, so that the merge is still running when the origin is mounted.
    start("kernel.copier.rate = 2M");
    String loop = mkfs();
    Path fs = mount(loop, "fs");
    Files.writeString(fs.resolve("a.txt"), "one");
    byte[] keep = random(2 << 20, 2);
    Files.write(fs.resolve("keep.bin"), keep);
    umount(fs);
    detach(loop);

    d.jdm("snapshot", "snap", "base", "--cow", dir.resolve("snap.cow").toString(), "--size",
        "48M").ok();
    // The origin moves on; the snapshot is changed too.
    loop = losetup("base", false);
    fs = mount(loop, "fs");
    Files.writeString(fs.resolve("a.txt"), "two");
    Files.write(fs.resolve("b.bin"), random(8 << 20, 3));
    umount(fs);
    detach(loop);
    String snap = losetup("snap", false);
    Path sfs = mount(snap, "snap-fs");
    Files.writeString(sfs.resolve("c.txt"), "three");
    umount(sfs);
    detach(snap);

    CompletableFuture<CliResult> merge = CompletableFuture.supplyAsync(
        () -> d.jdm("snapshot", "merge", "snap"), r -> Thread.ofVirtual().start(r));
    while (!d.jdm("table", "base").ok().contains("snapshot-merge") && !merge.isDone()) {
      Thread.sleep(20);
    }
    loop = losetup("base", false);
    fs = mount(loop, "fs");
    String during = d.jdm("status", "base").ok().lines().findFirst().orElseThrow();
    assertEquals("one", Files.readString(fs.resolve("a.txt")), "the origin reads as the snapshot");
    assertEquals("three", Files.readString(fs.resolve("c.txt")));
    assertFalse(Files.exists(fs.resolve("b.bin")));
    assertArrayEquals(keep, Files.readAllBytes(fs.resolve("keep.bin")));
    Files.writeString(fs.resolve("d.txt"), "four");
    ok("sync");

    CliResult merged = merge.get(300, TimeUnit.SECONDS);
    String real = "0 " + SECTORS + " linear " + dir.resolve("base.img") + " 0";
    assertEquals("base: 0 " + SECTORS + " snapshot-merge /dev/mapper/base-real "
        + dir.resolve("snap.cow") + " P 8\nbase: " + real + "\n", merged.ok());
    assertTrue(during.matches("0 " + SECTORS + " snapshot-merge \\d+/98304 \\d+"), during);
    String[] usage = during.split(" ")[3].split("/");
    assertTrue(Long.parseLong(usage[0]) > Long.parseLong(during.split(" ")[4]),
        "the merge was still running when the origin was mounted: " + during);
    assertEquals("four", Files.readString(fs.resolve("d.txt")));
    umount(fs);
    fsck(loop);
    fs = mount(loop, "fs");
    assertEquals("one", Files.readString(fs.resolve("a.txt")));
    assertEquals("four", Files.readString(fs.resolve("d.txt")));
    umount(fs);
    detach(loop);
    assertEquals(real + "\n", d.jdm("table", "base").ok());
  }
}
