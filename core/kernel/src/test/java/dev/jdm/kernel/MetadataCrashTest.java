package dev.jdm.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jdm.spi.IoOp;
import dev.jdm.spi.MetadataBlocks;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills a metadata writer with SIGKILL between writing a transaction's blocks and writing its
 * commit block, then reopens the store and finds the previous commit whole. The writer is a child
 * JVM ({@link Writer}) that stores generation 1, commits it, stores generation 2 in other blocks
 * and stops inside the commit just before the commit block goes out.
 */
class MetadataCrashTest {
  private static final int BLOCK = 4096;
  private static final long OFFSET = 16;
  private static final long MAGIC = 0x6a646d2d6d657461L;
  private static final int BLOCKS_PER_GENERATION = 4;
  private static final String READY = "about to write the commit block";

  @TempDir Path dir;

  @Test
  void aWriterKilledBeforeTheCommitBlockLeavesTheOldCommitWhole() throws Exception {
    Path meta = ServiceFixture.sparse(dir.resolve("meta.img"), 1 << 20);
    Path log = dir.resolve("writer.log");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java")
        .toString(), "--enable-native-access=ALL-UNNAMED", "-cp",
        System.getProperty("java.class.path"), Writer.class.getName(), meta.toString())
        .redirectError(log.toFile())
        .start();
    List<String> lines = new ArrayList<>();
    try {
      BlockingQueue<String> out = new LinkedBlockingQueue<>();
      Thread.ofVirtual().start(() -> {
        try (BufferedReader r = new BufferedReader(
            new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
          for (String l; (l = r.readLine()) != null; ) {
            out.add(l);
          }
        } catch (java.io.IOException e) {
          out.add("read failed: " + e);
        }
      });
      while (true) {
        String l = out.poll(60, TimeUnit.SECONDS);
        if (l == null) {
          throw new AssertionError("the writer did not get to its commit: " + lines + "\n"
              + Files.readString(log));
        }
        if (l.equals(READY)) {
          break;
        }
        lines.add(l);
      }
      p.destroyForcibly();
      assertEquals(137, p.waitFor(), "killed with SIGKILL");
    } finally {
      p.destroyForcibly();
      p.waitFor();
    }
    assertEquals(List.of("generation 1 committed", "generation 2 written"), lines);

    try (ServiceFixture f = new ServiceFixture()) {
      ProbeTarget t = f.probe("reopen", 2048, meta);
      MetadataBlocks m = t.ctx.metadata(t.dev, OFFSET, BLOCK, true);
      ByteBuffer header = m.read(0);
      assertEquals(MAGIC, header.getLong(0));
      assertEquals(1, header.getInt(8), "the commit block is still generation 1's");
      long first = header.getLong(12);
      assertEquals(1, first);
      for (int i = 0; i < BLOCKS_PER_GENERATION; i++) {
        assertEquals(100 + i, m.read(first + i).getInt(0), "generation 1, block " + i);
      }
      // Generation 2's blocks did reach the file before the kill: the kill fell in between.
      assertEquals(200, m.read(1 + BLOCKS_PER_GENERATION).getInt(0));
    }
  }

  /** Stores a generation's blocks from {@code first} and points the header (block 0) at them. */
  static void store(MetadataBlocks m, int generation, long first) throws Exception {
    for (int i = 0; i < BLOCKS_PER_GENERATION; i++) {
      ByteBuffer b = m.zeroed(first + i);
      for (int at = 0; at < BLOCK - 4; at += 4) {
        b.putInt(at, generation * 100 + i);
      }
    }
    ByteBuffer header = m.zeroed(0);
    header.putLong(0, MAGIC).putInt(8, generation).putLong(12, first);
  }

  /** The child JVM: commits generation 1, then stops inside generation 2's commit. */
  public static final class Writer {
    public static void main(String[] args) throws Exception {
      long commitSector = OFFSET;
      boolean[] armed = {false};
      try (ServiceFixture f = new ServiceFixture()) {
        ProbeTarget t = f.probe("writer", 2048, args[0]);
        WatchedDevice dev = new WatchedDevice(t.dev, r -> {
          if (armed[0] && r.op() == IoOp.WRITE && r.sector() == commitSector) {
            System.out.println(READY);
            System.out.flush();
            while (true) {
              try {
                Thread.sleep(1000);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
          }
        });
        MetadataBlocks m = t.ctx.metadata(dev, OFFSET, BLOCK, true);
        store(m, 1, 1);
        m.commit(0);
        System.out.println("generation 1 committed");
        store(m, 2, 1 + BLOCKS_PER_GENERATION);
        System.out.println("generation 2 written");
        armed[0] = true;
        m.commit(0);
        System.out.println("not stopped before the commit block");
      }
      System.exit(1);
    }
  }
}
