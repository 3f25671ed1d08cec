package dev.jdm.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon's claim on its runtime directory: an exclusive lock on {@code jdm.lock} (holding the
 * daemon's pid, for the message a second daemon prints) that the kernel releases if the daemon is
 * killed. Whoever holds the lock owns the control socket, so a socket file found then is stale.
 */
final class RuntimeDir implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RuntimeDir.class);
  static final String LOCK = "jdm.lock";

  private final Path dir;
  private final FileChannel lockFile;
  private final FileLock lock;

  private RuntimeDir(Path dir, FileChannel lockFile, FileLock lock) {
    this.dir = dir;
    this.lockFile = lockFile;
    this.lock = lock;
  }

  /**
   * Creates {@code dir} (0700) if needed, checks that no other user can change it, takes the lock
   * and clears a stale socket.
   */
  static RuntimeDir claim(Path dir) throws StartFailed {
    try {
      if (!Files.isDirectory(dir)) {
        Files.createDirectories(dir,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      }
    } catch (IOException e) {
      throw new StartFailed(dir + ": cannot create the runtime directory: " + e.getMessage());
    }
    checkPrivate(dir);
    Path lockPath = dir.resolve(LOCK);
    FileChannel ch;
    try {
      ch = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.READ,
          StandardOpenOption.WRITE);
      Files.setPosixFilePermissions(lockPath, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException e) {
      throw new StartFailed(lockPath + ": cannot open the lock file: " + e.getMessage());
    }
    try {
      FileLock lock;
      try {
        lock = ch.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null;
      }
      if (lock == null) {
        String pid = new String(Files.readAllBytes(lockPath), StandardCharsets.UTF_8).strip();
        ch.close();
        throw new StartFailed("another jdm serve" + (pid.isEmpty() ? "" : " (pid " + pid + ")")
            + " is running on " + dir + "; stop it first or use another --runtime-dir");
      }
      ch.truncate(0);
      ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n")
          .getBytes(StandardCharsets.UTF_8)), 0);
      RuntimeDir r = new RuntimeDir(dir, ch, lock);
      if (Files.deleteIfExists(r.socket())) {
        LOG.info("replaced the stale control socket {} of a daemon that is gone", r.socket());
      }
      return r;
    } catch (IOException e) {
      try {
        ch.close();
      } catch (IOException ignored) {
        // already failing
      }
      throw new StartFailed(lockPath + ": " + e.getMessage());
    }
  }

  /**
   * Refuses a directory another user owns or may write to: that user could replace the control
   * socket (and so take the verbs, tables included) or the NBD socket (and so the data).
   */
  private static void checkPrivate(Path dir) throws StartFailed {
    try {
      int owner = (Integer) Files.getAttribute(dir, "unix:uid");
      int me = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
      if (owner != me) {
        throw new StartFailed(dir + ": refusing the runtime directory: it belongs to uid " + owner
            + ", not to this daemon's user (uid " + me + "), who could swap its sockets; use"
            + " another --runtime-dir");
      }
      Set<PosixFilePermission> mode = Files.getPosixFilePermissions(dir);
      if (mode.contains(PosixFilePermission.GROUP_WRITE)
          || mode.contains(PosixFilePermission.OTHERS_WRITE)) {
        throw new StartFailed(dir + ": refusing the runtime directory: other users may write to it"
            + " (mode " + PosixFilePermissions.toString(mode) + ") and so swap its sockets; chmod"
            + " go-w it or use another --runtime-dir");
      }
    } catch (IOException e) {
      throw new StartFailed(dir + ": cannot check the runtime directory: " + e.getMessage());
    }
  }

  Path dir() {
    return dir;
  }

  /** The control socket's path. */
  Path socket() {
    return dir.resolve(ControlProtocol.SOCKET);
  }

  /** Removes the socket and the lock file, then lets the lock go. */
  @Override
  public void close() {
    try {
      Files.deleteIfExists(socket());
      Files.deleteIfExists(dir.resolve(LOCK));
      lock.release();
      lockFile.close();
    } catch (IOException e) {
      LOG.warn("{}: cleaning up the runtime directory: {}", dir, e.toString());
    }
  }
}
