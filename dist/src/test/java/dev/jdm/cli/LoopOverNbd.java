package dev.jdm.cli;

import dev.jdm.testkit.ExternalTools;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * An NBD export made a kernel block device: {@code nbdfuse} shows it as a file, {@code losetup}
 * makes a loop device of that file, and the device may be mounted. {@link #close()} undoes all of
 * it in reverse, each step even when an earlier one failed.
 */
final class LoopOverNbd implements AutoCloseable {
  private final ExternalTools tools;
  private final Path fuse;
  private final Process nbdfuse;
  final String loop;
  private Path mounted;

  private LoopOverNbd(ExternalTools tools, Path fuse, Process nbdfuse, String loop) {
    this.tools = tools;
    this.fuse = fuse;
    this.nbdfuse = nbdfuse;
    this.loop = loop;
  }

  /** Attaches the export at {@code uri}, with {@code dir} for the FUSE mount point and logs. */
  static LoopOverNbd attach(ExternalTools tools, Path dir, String uri) throws Exception {
    Path fuse = Files.createDirectories(dir.resolve("nbdfuse"));
    Path pid = dir.resolve("nbdfuse.pid");
    Path log = dir.resolve("nbdfuse.log");
    Process p = tools.spawn(List.of("nbdfuse", "-P", pid.toString(), fuse + "/disk", uri), log);
    String loop = null;
    try {
      ExternalTools.awaitFile(pid, p, 60, log);
      loop = tools.ok(List.of("losetup", "-f", "--show", fuse + "/disk"), 60).strip();
      return new LoopOverNbd(tools, fuse, p, loop);
    } catch (Throwable e) {
      if (loop == null) {
        tools.run(List.of("fusermount3", "-u", fuse.toString()), 60);
        p.destroy();
      }
      throw e;
    }
  }

  /** Mounts the loop device on {@code at}. */
  void mount(Path at) throws Exception {
    Files.createDirectories(at);
    tools.ok(List.of("mount", loop, at.toString()), 120);
    mounted = at;
  }

  /** Unmounts it, when mounted. */
  void unmount() throws Exception {
    if (mounted != null) {
      Path m = mounted;
      mounted = null;
      tools.ok(List.of("umount", m.toString()), 300);
    }
  }

  @Override
  public void close() throws Exception {
    try {
      if (mounted != null) {
        tools.run(List.of("umount", "-l", mounted.toString()), 300);
      }
    } finally {
      try {
        tools.run(List.of("losetup", "-d", loop), 60);
      } finally {
        tools.run(List.of("fusermount3", "-u", fuse.toString()), 60);
        nbdfuse.destroy();
        nbdfuse.waitFor();
      }
    }
  }
}
