package dev.jdm.fuse;

import dev.jdm.fuse.proto.LinuxCalls;
import dev.jdm.fuse.proto.LinuxException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loop devices attached to files of the mount. On shutdown they are detached the way
 * {@code losetup -d} does it: at once when unused, else when their last user closes them, so that
 * none is left pointing at a file that no longer exists.
 */
final class LoopDevices {
  private static final Logger LOG = LoggerFactory.getLogger(LoopDevices.class);
  private static final Path SYS_BLOCK = Path.of("/sys/block");
  /** ioctl LOOP_CLR_FD (linux/loop.h): detach, or mark for detach on last close. */
  private static final long LOOP_CLR_FD = 0x4C01;

  private LoopDevices() {}

  /** The loop devices (e.g. {@code /dev/loop3}) whose backing file lies under {@code dir}. */
  static List<String> backedBy(Path dir) {
    List<String> found = new ArrayList<>();
    String prefix = dir.toString() + "/";
    try (DirectoryStream<Path> loops = Files.newDirectoryStream(SYS_BLOCK, "loop*")) {
      for (Path loop : loops) {
        Path backing = loop.resolve("loop/backing_file");
        if (Files.isReadable(backing) && Files.readString(backing).strip().startsWith(prefix)) {
          found.add("/dev/" + loop.getFileName());
        }
      }
    } catch (IOException e) {
      LOG.debug("fuse: cannot list loop devices: {}", e.toString());
    }
    return found;
  }

  /** Detaches every loop device backed by a file under {@code dir}, logging each. */
  static void detachAll(Path dir) {
    for (String dev : backedBy(dir)) {
      try {
        int fd = LinuxCalls.open(dev, LinuxCalls.O_RDONLY | LinuxCalls.O_CLOEXEC);
        try {
          LinuxCalls.ioctl(fd, LOOP_CLR_FD, 0);
          LOG.warn("fuse: detaching {} from its file under {}; it goes when its last user"
              + " closes it", dev, dir);
        } finally {
          LinuxCalls.close(fd);
        }
      } catch (LinuxException e) {
        LOG.warn("fuse: cannot detach {}: {}", dev, e.getMessage());
      }
    }
  }
}
