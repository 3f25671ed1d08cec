package dev.jdm.luks;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Whole reads from a LUKS image. */
final class Image {
  private Image() {}

  /** {@code length} bytes at {@code offset}; fails when the image ends first. */
  static byte[] read(FileChannel ch, long offset, int length) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(length);
    while (b.hasRemaining()) {
      if (ch.read(b, offset + b.position()) < 0) {
        throw new IOException("the image ends at byte " + (offset + b.position())
            + ", inside its LUKS header");
      }
    }
    return b.array();
  }

  /** As {@link #read(FileChannel, long, int)}, opening {@code image} for it. */
  static byte[] read(Path image, long offset, int length) throws IOException {
    try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
      return read(ch, offset, length);
    }
  }
}
