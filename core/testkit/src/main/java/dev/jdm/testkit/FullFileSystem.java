package dev.jdm.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A small tmpfs mounted on a new directory, for backing files larger than the file system under
 * them: writes past its capacity fail with ENOSPC, as on a full disk. Needs root; unmounted by
 * {@link #close()}, also after a failed test.
 */
public final class FullFileSystem implements AutoCloseable {
  private final Path dir;
  private final ExternalTools tools;

  private FullFileSystem(Path dir, ExternalTools tools) {
    this.dir = dir;
    this.tools = tools;
  }

  /** Mounts a tmpfs of {@code bytes} on {@code dir} (created). */
  public static FullFileSystem mount(Path dir, long bytes) throws Exception {
    Files.createDirectories(dir);
    ExternalTools tools = new ExternalTools(dir.getParent());
    tools.ok(List.of("mount", "-t", "tmpfs", "-o", "size=" + bytes + ",mode=0700", "jdm-test-full",
        dir.toString()), 60);
    return new FullFileSystem(dir, tools);
  }

  /** Where it is mounted. */
  public Path dir() {
    return dir;
  }

  /** A sparse file of {@code bytes} on it, larger than the file system if asked. */
  public Path sparseFile(String name, long bytes) throws IOException {
    Path p = dir.resolve(name);
    try (var f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(bytes);
    }
    return p;
  }

  @Override
  public void close() throws Exception {
    try {
      if (tools.run(List.of("umount", dir.toString()), 60).exit() != 0) {
        tools.run(List.of("umount", "-l", dir.toString()), 60);
      }
    } finally {
      tools.close();
    }
  }
}
