package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jdm log-writes replay} on a log written here by hand in the kernel's format. */
class LogWritesReplayTest {
  private static final int BLOCK = 512;

  @TempDir Path dir;
  private Path log;
  private Path dev;
  private final ByteArrayOutputStream entries = new ByteArrayOutputStream();
  private int count;

  /** Appends an entry: its header block, a mark's text, then the data blocks. */
  private void entry(long sector, int sectors, long flags, String mark, int fill) {
    ByteBuffer h = ByteBuffer.allocate(BLOCK).order(ByteOrder.LITTLE_ENDIAN);
    byte[] text = mark == null ? new byte[0] : mark.getBytes(StandardCharsets.UTF_8);
    h.putLong(0, sector).putLong(8, sectors).putLong(16, flags).putLong(24, text.length);
    h.put(32, text);
    entries.writeBytes(h.array());
    if ((flags & LogReplay.DISCARD) == 0) {
      byte[] data = new byte[sectors * BLOCK];
      Arrays.fill(data, (byte) fill);
      entries.writeBytes(data);
    }
    count++;
  }

  private void writeLog(long counted) throws Exception {
    ByteBuffer s = ByteBuffer.allocate(BLOCK).order(ByteOrder.LITTLE_ENDIAN);
    s.putLong(0, 0x6a736677736872L).putLong(8, 1).putLong(16, counted).putInt(24, BLOCK);
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    all.writeBytes(s.array());
    all.writeBytes(entries.toByteArray());
    Files.write(log, all.toByteArray());
  }

  @BeforeEach
  void files() throws Exception {
    log = dir.resolve("log.img");
    dev = dir.resolve("dev.img");
    byte[] old = new byte[64 * BLOCK];
    Arrays.fill(old, (byte) 0x55);
    Files.write(dev, old);
    entry(0, 2, 0, null, 1);
    entry(0, 0, LogReplay.FLUSH, null, 0);
    entry(0, 0, LogReplay.MARK, "one", 0);
    entry(4, 1, LogReplay.FUA, null, 2);
    entry(1, 8, LogReplay.DISCARD, null, 0);
    entry(0, 0, LogReplay.MARK, "two", 0);
    entry(20, 1, LogReplay.FLUSH, null, 3);
    writeLog(count);
  }

  private CliResult replay(String... options) {
    String[] args = new String[4 + options.length];
    args[0] = "log-writes";
    args[1] = "replay";
    args[2] = log.toString();
    args[3] = dev.toString();
    System.arraycopy(options, 0, args, 4, options.length);
    return InProcessDaemon.run("", args);
  }

  private byte sectorByte(int sector) throws Exception {
    return Files.readAllBytes(dev)[sector * BLOCK];
  }

  @Test
  void replaysEveryEntryInOrder() throws Exception {
    assertEquals("replayed 7 of 7 entries\n", replay().ok());
    byte[] img = Files.readAllBytes(dev);
    assertEquals(1, img[0], "first write");
    assertEquals(0, img[BLOCK], "then discarded");
    assertEquals(0, img[8 * BLOCK], "to the end of the discard");
    assertEquals(0x55, img[9 * BLOCK], "not past it");
    assertEquals(0, img[4 * BLOCK], "the FUA write was discarded after it");
    assertEquals(3, img[20 * BLOCK]);
  }

  @Test
  void stopsAtTheLimitOrTheMark() throws Exception {
    assertEquals("replayed 4 of 7 entries\n", replay("--limit", "4").ok());
    assertEquals(2, sectorByte(4));
    assertEquals(1, sectorByte(1));
    Files.write(dev, new byte[64 * BLOCK]);
    assertEquals("replayed 3 of 7 entries\n", replay("--end-mark", "one").ok());
    assertEquals(0, sectorByte(4));
  }

  @Test
  void startsAfterAMarkWithoutWritingWhatCameBefore() throws Exception {
    assertEquals("replayed 4 of 7 entries\n", replay("--start-mark", "one").ok());
    assertEquals(0x55, sectorByte(0), "the write before the mark is not replayed");
    assertEquals(3, sectorByte(20));
  }

  @Test
  void runsTheCheckAtEachFlaggedEntryAndStopsAtAFailure() throws Exception {
    Path seen = dir.resolve("seen");
    String check = "od -An -tx1 -j 10240 -N 1 " + dev + " >> " + seen;
    String out = replay("--check", check, "--check-every", "flush").ok();
    assertEquals("entry 1 (FLUSH): check passed\nentry 6 (FLUSH): check passed\n"
        + "replayed 7 of 7 entries; 2 checks passed\n", out);
    assertEquals(" 55\n 03\n", Files.readString(seen), "each check sees the replay so far");

    byte[] old = new byte[64 * BLOCK];
    Arrays.fill(old, (byte) 0x55);
    Files.write(dev, old);
    CliResult marks = replay("--check", "test $(od -An -tx1 -j 2048 -N 1 " + dev + ") = 55",
        "--check-every", "MARK");
    assertEquals(1, marks.code());
    assertEquals("entry 2 (MARK one): check passed\nentry 5 (MARK two): check failed, exit status 1\n"
        + "replayed 6 of 7 entries; check 2 failed\n", marks.out());
  }

  @Test
  void refusesBadUsageAndBadLogs() throws Exception {
    assertEquals(2, replay("--check", "true").code());
    assertEquals(2, replay("--check-every", "flush").code());
    assertEquals(2, replay("--check", "true", "--check-every", "sometimes").code());
    assertEquals(2, replay("--limit", "0").code());
    assertEquals("jdm: " + log + ": no mark 'three' in the log",
        replay("--end-mark", "three").failed());
    byte[] before = Files.readAllBytes(dev);
    assertArrayEquals(before, Files.readAllBytes(dev), "nothing written");
    Files.write(log, new byte[BLOCK]);
    assertEquals("jdm: " + log + ": not a log-writes log (magic doesn't match)", replay().failed());
    writeLog(count + 1);
    assertTrue(replay().failed().startsWith("jdm: " + log + ": the log ends inside entry 7"));
    Files.delete(log);
    assertEquals("jdm: " + log + ": No such file", replay().failed());
  }
}
