package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.ExternalTools;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The crash test file-system developers run with dm-log-writes, end to end with real tools: ext4
 * on a log-writes device (through the NBD frontend, nbdfuse and a loop device), a workload of
 * fsyncs with marks, then the log replayed onto a fresh image up to every flush, and
 * {@code e2fsck -fn} clean at each one.
 */
class LogWritesCrashTest {
  private static final long DEVICE_BYTES = 64L << 20;
  private static final long LOG_BYTES = 1L << 30;
  private static final int STEPS = 30;

  @TempDir Path dir;

  private Path sparse(String name, long bytes) throws Exception {
    Path p = dir.resolve(name);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(bytes);
    }
    return p;
  }

  @Test
  void ext4IsConsistentAtEveryFlushOfTheLog() throws Exception {
    Path data = sparse("data.img", DEVICE_BYTES);
    Path log = sparse("log.img", LOG_BYTES);
    Path socket = dir.resolve("nbd.sock");
    String table = "0 " + DEVICE_BYTES / 512 + " log-writes " + data + " " + log;
    String status;
    try (InProcessDaemon d = InProcessDaemon.start(dir, "frontends.nbd { enabled = true,"
            + " listen = [\"unix:" + socket + "\"] }");
        ExternalTools tools = new ExternalTools(dir)) {
      d.jdm("create", "log", "--table", table).ok();
      try (LoopOverNbd disk = LoopOverNbd.attach(tools, dir, "nbd+unix:///log?socket=" + socket)) {
        tools.ok(List.of("mkfs.ext4", "-q", "-F", disk.loop), 300);
        d.jdm("message", "log", "0", "mark", "mkfs").ok();
        Path mnt = dir.resolve("mnt");
        disk.mount(mnt);
        for (int i = 0; i < STEPS; i++) {
          tools.ok(List.of("sh", "-c", "cd " + mnt + " && mkdir -p d0 d1 d2 d3"
              + " && dd if=/dev/urandom of=d" + i % 4 + "/f" + i + " bs=16k count=" + (1 + i % 5)
              + " conv=fsync status=none"
              + (i % 3 == 2 ? " && mv d" + (i - 2) % 4 + "/f" + (i - 2) + " d" + (i + 1) % 4 + "/g"
                  + i + " && sync" : "")
              + (i % 7 == 6 ? " && rm -f d" + (i % 4) + "/f" + (i - 4) + " && sync" : "")), 120);
          if (i % 10 == 9) {
            d.jdm("message", "log", "0", "mark", "step" + i).ok();
          }
        }
        disk.unmount();
      }
      status = d.jdm("status", "log").ok().lines().findFirst().orElseThrow();
      d.jdm("remove", "log").ok();
    }
    assertTrue(status.matches("0 " + DEVICE_BYTES / 512 + " log-writes \\d+ \\d+"), status);

    Path replay = sparse("replay.img", DEVICE_BYTES);
    String toMkfs = InProcessDaemon.run("", "log-writes", "replay", log.toString(),
        replay.toString(), "--end-mark", "mkfs").ok();
    assertTrue(toMkfs.matches("replayed \\d+ of \\d+ entries\n"), toMkfs);
    // After a crash the journal is replayed (by the next mount, or e2fsck) before anything else:
    // recover it on a copy, so the replay goes on from the crash state, then check the copy.
    Path snap = dir.resolve("snap.img");
    String check = "cp --sparse=always " + replay + " " + snap
        + " && e2fsck -y -E journal_only " + snap + " && e2fsck -fn " + snap;
    CliResult all = InProcessDaemon.run("", "log-writes", "replay", log.toString(),
        replay.toString(), "--start-mark", "mkfs", "--check", check, "--check-every", "flush");
    assertEquals(0, all.code(), all.err() + all.out());
    long passed = all.out().lines().filter(l -> l.endsWith(": check passed")).count();
    System.out.println("log-writes crash test: " + all.out().lines().reduce((a, b) -> b)
        .orElse("") + " (e2fsck -fn clean at " + passed + " flush points)");
    assertTrue(passed >= 20, "flush points checked: " + passed);
    assertTrue(all.out().endsWith("; " + passed + " checks passed\n"), all.out());
  }
}
