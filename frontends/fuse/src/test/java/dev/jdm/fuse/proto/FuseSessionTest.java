package dev.jdm.fuse.proto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The protocol's own duties, with a small file system made for the purpose: a callback that throws
 * becomes EIO and the mount keeps serving; an opcode nobody handles gets ENOSYS; an interrupted
 * request is seen as such and still answered.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class FuseSessionTest {
  private static final long BOOM = 2;
  private static final long SLOW = 3;
  private static final long OK = 4;
  private static final int SIZE = 4096;

  private Path dir;
  private FuseSession session;
  private final CountDownLatch slowReadStarted = new CountDownLatch(1);
  private final CountDownLatch releaseSlowRead = new CountDownLatch(1);

  /** Three files: "boom" (stat throws), "slow" (reads wait for the test), "ok". */
  private final class ProbeFiles implements FuseFilesystem {
    private Attributes attributes(long node) {
      return node == FuseWire.ROOT_ID
          ? new Attributes(node, 0, 0, 0, 0, Attributes.S_IFDIR | 0755, 2, 0, 0, SIZE)
          : new Attributes(node, SIZE, SIZE / 512, 0, 0, Attributes.S_IFREG | 0600, 1, 0, 0, SIZE);
    }

    @Override
    public void lookup(FuseRequest r, long parent, String name) {
      long node = switch (name) {
        case "boom" -> BOOM;
        case "slow" -> SLOW;
        case "ok" -> OK;
        default -> 0;
      };
      if (node == 0) {
        r.replyError(Errno.ENOENT);
      } else {
        r.replyEntry(attributes(node), 1, 0, 0);
      }
    }

    @Override
    public void getattr(FuseRequest r, long node) {
      if (node == BOOM) {
        throw new IllegalStateException("a bug in a file system callback");
      }
      r.replyAttr(attributes(node), 0);
    }

    @Override
    public void open(FuseRequest r, long node, int flags) {
      r.replyOpen(node, FuseWire.FOPEN_DIRECT_IO);
    }

    @Override
    public void read(FuseRequest r, long node, long fh, long offset, int size) {
      if (node == SLOW) {
        slowReadStarted.countDown();
        try {
          releaseSlowRead.await(1, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      int n = (int) Math.max(0, Math.min(size, SIZE - offset));
      for (int i = 0; i < n; i++) {
        r.bytes().put(r.outBody() + i, (byte) 'x');
      }
      r.reply(n);
    }

    @Override
    public void flush(FuseRequest r, long node, long fh) {
      r.replyOk();
    }

    @Override
    public void release(FuseRequest r, long node, long fh) {
      r.replyOk();
    }
  }

  @BeforeEach
  void mount() throws Exception {
    dir = Files.createTempDirectory("jdm-fuse-session-");
    session = FuseSession.mount(dir, "jdmtest", new FuseSession.Options(4, 2, 1 << 20, 16,
        Duration.ofSeconds(30), false), new ProbeFiles());
  }

  @AfterEach
  void unmount() throws Exception {
    releaseSlowRead.countDown();
    try {
      session.close(Duration.ofSeconds(10));
      assertNull(MountTable.top(dir), "still mounted");
    } finally {
      Files.deleteIfExists(dir);
    }
  }

  @Test
  void initIsNegotiated() throws Exception {
    FuseInit t = session.terms();
    assertTrue(t.minor() >= FuseWire.MIN_MINOR && t.minor() <= FuseWire.MAX_MINOR, t.toString());
    assertEquals(1 << 20, t.maxWrite());
    assertEquals("fuse.jdmtest", MountTable.top(dir).type());
  }

  @Test
  void aThrowingCallbackBecomesEioAndTheMountKeepsServing() throws Exception {
    IOException e = assertThrows(IOException.class,
        () -> Files.readAttributes(dir.resolve("boom"), BasicFileAttributes.class));
    assertTrue(e.getMessage().contains("Input/output error"), e.toString());
    assertEquals(SIZE, Files.size(dir.resolve("ok")));
    assertArrayEquals(filled(SIZE), Files.readAllBytes(dir.resolve("ok")));
  }

  @Test
  void anOpcodeNobodyHandlesGetsEnosys() throws Exception {
    UserDefinedFileAttributeView xattrs =
        Files.getFileAttributeView(dir.resolve("ok"), UserDefinedFileAttributeView.class);
    FileSystemException e = assertThrows(FileSystemException.class, xattrs::list);
    assertTrue(String.valueOf(e.getReason()).contains("not supported"), e.toString());
    assertEquals(SIZE, Files.size(dir.resolve("ok")));
  }

  @Test
  void anInterruptedReadIsSeenAndStillAnswered() throws Exception {
    Process dd = startSlowRead();
    try {
      dd.destroy();
      for (int i = 0; i < 600 && session.interrupts() == 0; i++) {
        Thread.sleep(100);
      }
      assertEquals(1, session.interrupts(), "INTERRUPT requests");
      releaseSlowRead.countDown();
      assertTrue(dd.waitFor(1, TimeUnit.MINUTES), "dd did not end");
    } finally {
      dd.destroyForcibly();
    }
    assertArrayEquals(filled(SIZE), Files.readAllBytes(dir.resolve("ok")));
  }

  @Test
  void aRequestThatTakesLongDoesNotHoldUpOthers() throws Exception {
    Process dd = startSlowRead();
    try {
      for (int i = 0; i < 20; i++) {
        assertArrayEquals(filled(SIZE), Files.readAllBytes(dir.resolve("ok")));
      }
      assertTrue(dd.isAlive(), "the slow read is still being handled");
      releaseSlowRead.countDown();
      assertTrue(dd.waitFor(1, TimeUnit.MINUTES), "dd did not end");
      assertEquals(0, dd.exitValue());
    } finally {
      dd.destroyForcibly();
    }
  }

  /** Starts dd reading "slow" and waits until the file system holds its READ. */
  private Process startSlowRead() throws Exception {
    Process dd = new ProcessBuilder("dd", "if=" + dir.resolve("slow"), "of=/dev/null", "bs=4096",
        "count=1").redirectErrorStream(true).start();
    if (!slowReadStarted.await(1, TimeUnit.MINUTES)) {
      dd.destroyForcibly();
      throw new AssertionError("the read never came");
    }
    return dd;
  }

  private static byte[] filled(int n) {
    byte[] b = new byte[n];
    Arrays.fill(b, (byte) 'x');
    return b;
  }
}
