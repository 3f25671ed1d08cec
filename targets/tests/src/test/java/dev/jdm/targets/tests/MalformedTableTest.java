package dev.jdm.targets.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.DmException;
import dev.jdm.kernel.TargetRegistry;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed table lines each give one line naming device, target and reason, and leak nothing. */
class MalformedTableTest {
  @TempDir Path dir;

  record Case(String table, String expected) {}

  @Test
  void eachMalformedLineGivesOneLineAndLeavesNoFileOpen() throws Exception {
    Path a = dir.resolve("a.img");
    Path b = dir.resolve("b.img");
    for (Path p : List.of(a, b)) {
      try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
        f.setLength(4096 * 512);
      }
    }
    List<Case> cases = List.of(
        new Case("0 100 linear " + a, "bad: linear: Invalid argument count"),
        new Case("0 100 linear " + a + " 0 1", "bad: linear: Invalid argument count"),
        new Case("0 100 linear " + a + " abc", "bad: linear: Invalid device sector"),
        new Case("0 100 linear /nonexistent/disk 0", "bad: linear: Device lookup failed"),
        new Case("0 100 linear " + a + " 4090", "bad: linear: "),
        new Case("0 0 linear " + a + " 0", "bad: linear: zero-length target"),
        new Case("8 100 linear " + a + " 0", "bad: linear: Gap in table"),
        new Case("0 100 linear " + a + " 0\n200 100 linear " + b + " 0", "bad: linear: Gap in table"),
        new Case("0 100 linear " + a + " 0\n50 100 linear " + b + " 0", "bad: linear: Gap in table"),
        new Case("0 100 nosuchtarget 1 2", "bad: nosuchtarget: unknown target type"),
        new Case("0 1x linear " + a + " 0", "bad: linear: Invalid length sector '1x'"),
        new Case("zero 100 linear " + a + " 0", "bad: linear: Invalid start sector 'zero'"),
        new Case("0 100", "bad: table: Invalid format"),
        new Case("0 100 zero extra", "bad: zero: Invalid argument count"),
        new Case("0 100 error extra", "bad: error: Invalid argument count"),
        new Case("0 128 striped 2 0 " + a + " 0 " + b + " 0", "bad: striped: Invalid chunk_size"),
        new Case("0 100 striped 2 16 " + a + " 0 " + b + " 0", "bad: striped: "),
        new Case("0 128 striped 3 16 " + a + " 0 " + b + " 0", "bad: striped: "),
        new Case("0 128 striped 2 16 " + a + " 0 /nonexistent 0", "bad: striped: Device lookup failed"),
        new Case("0 100 hello_target " + a, "bad: hello_target: Invalid argument count"),
        new Case("0 100 linear " + a + " 0\\", "bad: table: Backslash at end of line"),
        new Case("", "bad: table: No targets in table"),
        new Case("0 100 linear " + a + " 0\n100 100 linear " + b + " 0\n200 50 linear "
            + a + " x", "bad: linear: Invalid device sector"));
    assertTrue(cases.size() >= 15);
    TargetRegistry registry = new TargetRegistry();
    registry.discover(getClass().getClassLoader(), "class path");
    try (DeviceMapper dm = new DeviceMapper(registry)) {
      long fdsBefore = openFds();
      for (Case c : cases) {
        DmException e = assertThrows(DmException.class, () -> dm.create("bad", c.table(), false),
            c.table());
        String m = e.getMessage();
        assertFalse(m.contains("\n"), "one line: " + m);
        assertTrue(m.startsWith(c.expected()), "'" + m + "' should start with '" + c.expected()
            + "'");
        String[] parts = m.split(": ", 3);
        assertTrue(parts.length == 3 && !parts[2].isBlank(), "device: target: reason: " + m);
        assertEquals(0, dm.openBackingDevices(), "left a backing device open: " + c.table());
        assertEquals(fdsBefore, openFds(), "left a file descriptor open: " + c.table());
        assertTrue(dm.find("bad").isEmpty());
      }
    }
  }

  private static long openFds() throws IOException {
    try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
      return s.count();
    }
  }
}
