package dev.jdm.daemon;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;

/** A sparse image file created at start when absent: {@code jdm.images.NAME { path, size }}. */
public record ImageSpec(String name, Path path, long sizeInBytes) {
  /**
   * Creates the file (0600, parent directories 0700) holding {@code sizeInBytes} of zeros without
   * allocating them: one byte is written at the end. An existing file is left as it is.
   *
   * @return whether it was created
   */
  boolean createIfAbsent() throws IOException {
    if (Files.exists(path)) {
      return false;
    }
    Path parent = path.toAbsolutePath().getParent();
    if (!Files.isDirectory(parent)) {
      Files.createDirectories(parent,
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    try (FileChannel ch = FileChannel.open(path, java.util.Set.of(StandardOpenOption.CREATE_NEW,
        StandardOpenOption.WRITE),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
      ch.write(ByteBuffer.allocate(1), sizeInBytes - 1);
    } catch (FileAlreadyExistsException raced) {
      return false;
    }
    return true;
  }
}
