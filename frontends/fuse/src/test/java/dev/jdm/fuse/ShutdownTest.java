package dev.jdm.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.jdm.fuse.proto.Errno;
import dev.jdm.fuse.proto.LinuxCalls;
import dev.jdm.fuse.proto.LinuxException;
import dev.jdm.fuse.proto.MountTable;
import dev.jdm.kernel.Frontend;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Unmounting: on close and on SIGTERM, also with a loop device attached or a file system mounted
 * on it; and the stale mount a killed daemon leaves, cleared by the next start.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ShutdownTest {
  @RegisterExtension final JdmMount jdm = new JdmMount("unmount-timeout = 2s");

  private Path disk() throws Exception {
    Path f = jdm.backing("disk.img", 64L << 20);
    jdm.device("disk", "0 131072 linear " + f + " 0");
    return f;
  }

  private static boolean mounted(Path dir) throws Exception {
    return MountTable.top(dir) != null;
  }

  /** Whether {@code loop} is still attached to a file of this test (another may reuse it). */
  private boolean attached(String loop) throws Exception {
    Path backing = Path.of("/sys/block", Path.of(loop).getFileName().toString(), "loop",
        "backing_file");
    try {
      return Files.readString(backing).strip().startsWith(jdm.dir() + "/");
    } catch (java.nio.file.NoSuchFileException e) {
      return false;
    }
  }

  @Test
  void closeDetachesAnIdleLoopDeviceAndUnmounts() throws Exception {
    disk();
    String loop = jdm.losetup(jdm.file("disk"));
    assertTrue(attached(loop));
    jdm.stop();
    assertFalse(mounted(jdm.mountpoint()), "still mounted");
    assertFalse(attached(loop), loop + " still attached");
  }

  @Test
  void closeEndsTheMountEvenWithAFileSystemMountedOnTheLoop() throws Exception {
    Tools.require("mkfs.ext4");
    disk();
    String loop = jdm.losetup(jdm.file("disk"));
    Tools.run("mkfs.ext4", "-q", "-F", loop).ok();
    Path fs = jdm.mount(loop, "ext4");
    jdm.stop();
    assertFalse(mounted(jdm.mountpoint()), "still mounted");
    jdm.umount(fs);
    // The loop device was marked to go with its last user, the file system just unmounted.
    for (int i = 0; i < 100 && attached(loop); i++) {
      Thread.sleep(100);
    }
    assertFalse(attached(loop), loop + " still attached after its file system went");
  }

  @Test
  void sigtermUnmountsCleanlyWithALoopDeviceAttached() throws Exception {
    Path dir = Files.createDirectory(jdm.dir().resolve("child"));
    Process child = serve(dir);
    String loop = jdm.losetup(dir.resolve("disk"));
    child.destroy();
    assertTrue(child.waitFor(2, TimeUnit.MINUTES), "jdm did not stop on SIGTERM");
    assertFalse(mounted(dir), "still mounted after SIGTERM");
    assertFalse(attached(loop), loop + " still attached after SIGTERM");
  }

  @Test
  void aStaleMountOfAKilledDaemonIsClearedByTheNextStart() throws Exception {
    Path dir = Files.createDirectory(jdm.dir().resolve("child"));
    Process child = serve(dir);
    child.destroyForcibly();
    assertTrue(child.waitFor(1, TimeUnit.MINUTES));
    LinuxException stale = assertThrows(LinuxException.class,
        () -> LinuxCalls.stat(dir.toString()));
    assertEquals(Errno.ENOTCONN, stale.errno());

    jdm.device("again", "0 32768 linear " + jdm.dir().resolve("child.img") + " 0");
    Frontend second = new FuseFrontendProvider().start(jdm.mapper(),
        jdm.settings("mountpoint = \"" + dir + "\"")).orElseThrow();
    try {
      try (var names = Files.list(dir)) {
        assertEquals(List.of("again"), names.map(p -> p.getFileName().toString()).toList());
      }
      assertEquals("fuse.jdm", MountTable.top(dir).type());
    } finally {
      second.close();
    }
    assertNull(MountTable.top(dir), "still mounted");
  }

  @Test
  void aMountServedByALiveJdmIsNotTakenOver() throws Exception {
    Exception e = assertThrows(Exception.class,
        () -> new FuseFrontendProvider().start(jdm.mapper(), jdm.settings("")));
    assertEquals("fuse: mountpoint " + jdm.mountpoint() + " is already served by a running jdm;"
        + " stop it or choose another mountpoint", e.getMessage());
    assertTrue(mounted(jdm.mountpoint()));
    assertTrue(Files.isDirectory(jdm.mountpoint()));
  }

  @Test
  void aMountpointGivenThroughASymlinkIsMountedAndUnmountedAtItsTarget() throws Exception {
    Path real = Files.createDirectory(jdm.dir().resolve("real"));
    Path link = Files.createSymbolicLink(jdm.dir().resolve("link"), real);
    Frontend second = new FuseFrontendProvider().start(jdm.mapper(),
        jdm.settings("mountpoint = \"" + link + "\"")).orElseThrow();
    try {
      assertEquals("fuse on " + real, second.describe());
      assertEquals("fuse.jdm", MountTable.top(real).type());
    } finally {
      second.close();
    }
    assertNull(MountTable.top(real), "still mounted");
  }

  @Test
  void aMissingMountpointIsReportedByName() throws Exception {
    Path missing = jdm.dir().resolve("nowhere");
    Exception e = assertThrows(Exception.class, () -> new FuseFrontendProvider()
        .start(jdm.mapper(), jdm.settings("mountpoint = \"" + missing + "\"")));
    assertEquals("fuse: mountpoint " + missing + " does not exist", e.getMessage());
  }

  /**
   * Starts {@link ServeDevices} in a child JVM with a 16 MiB device "disk" over child.img, and
   * waits for it to be mounted on {@code dir}.
   */
  private Process serve(Path dir) throws Exception {
    Path img = jdm.backing("child.img", 16L << 20);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
        System.getProperty("java.class.path"), ServeDevices.class.getName(), dir.toString(),
        "disk=0 32768 linear " + img + " 0");
    Process p = jdm.own(new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT)
        .start());
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(),
        StandardCharsets.UTF_8));
    CompletableFuture<String> ready = CompletableFuture.supplyAsync(() -> {
      try {
        for (String line; (line = out.readLine()) != null; ) {
          if (line.startsWith("ready")) {
            return line;
          }
        }
        return "exited";
      } catch (java.io.IOException e) {
        return e.toString();
      }
    });
    String line = ready.get(2, TimeUnit.MINUTES);
    if (!line.startsWith("ready")) {
      fail("ServeDevices did not start: " + line);
    }
    return p;
  }
}
