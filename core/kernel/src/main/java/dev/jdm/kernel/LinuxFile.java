package dev.jdm.kernel;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The few Linux file calls the JDK does not offer, through FFM: {@code fallocate} (punch holes,
 * zero ranges) and {@code lseek} with SEEK_DATA / SEEK_HOLE (find holes for block status). It keeps
 * its own descriptor of the file, beside the {@code FileChannel} that does the reads and writes.
 */
final class LinuxFile implements AutoCloseable {
  static final int FALLOC_FL_KEEP_SIZE = 0x01;
  static final int FALLOC_FL_PUNCH_HOLE = 0x02;
  static final int FALLOC_FL_ZERO_RANGE = 0x10;
  private static final int SEEK_DATA = 3;
  private static final int SEEK_HOLE = 4;
  private static final int O_RDONLY = 0;
  private static final int O_RDWR = 2;
  private static final int O_CLOEXEC = 0x80000;
  /** errno: no data past the offset (lseek SEEK_DATA at a trailing hole). */
  static final int ENXIO = 6;
  /** errno: the file system does not support the operation. */
  static final int EOPNOTSUPP = 95;
  /** errno: no space left on the file system. */
  static final int ENOSPC = 28;
  /** errno: the user's disk quota is used up. */
  static final int EDQUOT = 122;

  private static final MethodHandle OPEN = down("open",
      FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
  private static final MethodHandle CLOSE = down("close",
      FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
  private static final MethodHandle FALLOCATE = down("fallocate",
      FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
          ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
  private static final MethodHandle LSEEK = down("lseek",
      FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
          ValueLayout.JAVA_INT));

  /** pread(2) and pwrite(2): fd, buffer address, count, offset; bytes done or -1. */
  private static final FunctionDescriptor POSITIONAL = FunctionDescriptor.of(ValueLayout.JAVA_LONG,
      ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG);
  // The data calls pass the buffer's native address as a plain long and keep no errno state, so
  // a read or write allocates nothing.
  private static final MethodHandle PREAD = plain("pread", POSITIONAL);
  private static final MethodHandle PWRITE = plain("pwrite", POSITIONAL);
  private static final MethodHandle FDATASYNC = down("fdatasync",
      FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
  // The same calls keeping errno, for the failure path only.
  private static final MethodHandle PREAD_ERRNO = down("pread", POSITIONAL);
  private static final MethodHandle PWRITE_ERRNO = down("pwrite", POSITIONAL);

  private static MethodHandle down(String name, FunctionDescriptor fd) {
    return Libc.withErrno(name, fd);
  }

  private static MethodHandle plain(String name, FunctionDescriptor fd) {
    return Libc.plain(name, fd);
  }

  /** {@code pread} into native memory at {@code address}; bytes read, 0 at end of file, -1 on error. */
  long pread(long address, long count, long offset) {
    try {
      return (long) PREAD.invokeExact(fd, address, count, offset);
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /** {@code pwrite} from native memory at {@code address}; bytes written, -1 on error. */
  long pwrite(long address, long count, long offset) {
    try {
      return (long) PWRITE.invokeExact(fd, address, count, offset);
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /**
   * {@code pread} or {@code pwrite} once more after a call of the plain kind failed, this time
   * keeping errno: the count, or -errno. A retry of a failed write may succeed (space was freed
   * meanwhile), which is as good.
   */
  long retry(boolean write, long address, long count, long offset) {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment state = Libc.errnoSlot(a);
      long r = write
          ? (long) PWRITE_ERRNO.invokeExact(state, fd, address, count, offset)
          : (long) PREAD_ERRNO.invokeExact(state, fd, address, count, offset);
      return r >= 0 ? r : -Libc.errno(state);
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /** {@code fdatasync}; throws with errno when it failed (not retried: an error is told once). */
  void fdatasync() throws ErrnoException {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment state = Libc.errnoSlot(a);
      if ((int) FDATASYNC.invokeExact(state, fd) != 0) {
        throw new ErrnoException("fdatasync", Libc.errno(state));
      }
    } catch (ErrnoException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  private final int fd;

  /** A failed call, with its errno kept for the caller to decide on. */
  static final class ErrnoException extends IOException {
    private static final long serialVersionUID = 1L;
    final int errno;

    ErrnoException(String call, int errno) {
      super(call + " failed: errno " + errno);
      this.errno = errno;
    }
  }

  LinuxFile(String path, boolean writable) throws IOException {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment state = Libc.errnoSlot(a);
      int r = (int) OPEN.invokeExact(state, a.allocateFrom(path),
          (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
      if (r < 0) {
        throw new ErrnoException("open " + path, Libc.errno(state));
      }
      fd = r;
    } catch (IOException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /** {@code fallocate(fd, mode, offset, length)}. */
  void fallocate(int mode, long offset, long length) throws ErrnoException {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment state = Libc.errnoSlot(a);
      int r = (int) FALLOCATE.invokeExact(state, fd, mode, offset, length);
      if (r < 0) {
        throw new ErrnoException("fallocate", Libc.errno(state));
      }
    } catch (ErrnoException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /** Next data offset at or after {@code offset}, or -1 when only a hole follows. */
  long nextData(long offset) throws ErrnoException {
    return seek(offset, SEEK_DATA);
  }

  /** Next hole offset at or after {@code offset} (the file's end counts as a hole). */
  long nextHole(long offset) throws ErrnoException {
    return seek(offset, SEEK_HOLE);
  }

  private long seek(long offset, int whence) throws ErrnoException {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment state = Libc.errnoSlot(a);
      long r = (long) LSEEK.invokeExact(state, fd, offset, whence);
      if (r < 0) {
        int errno = Libc.errno(state);
        if (errno == ENXIO) {
          return -1;
        }
        throw new ErrnoException("lseek", errno);
      }
      return r;
    } catch (ErrnoException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  @Override
  public void close() {
    try (Arena a = Arena.ofConfined()) {
      int ignored = (int) CLOSE.invokeExact(Libc.errnoSlot(a), fd);
    } catch (Throwable t) {
      // nothing useful to do when close fails
    }
  }
}
