package dev.jdm.fuse.proto;

import dev.jdm.kernel.Libc;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The Linux calls the FUSE session needs and the JDK lacks, through FFM. The data-path calls
 * ({@link #read}, {@link #write}) take a raw address and a caller-owned errno slot and return
 * {@code -errno} on failure, so that they allocate nothing; the control-path calls throw
 * {@link LinuxException}.
 */
// Calling into the C library is this class's purpose; the JVM runs with native access enabled.
@SuppressWarnings("restricted")
public final class LinuxCalls {
  /** open(2): read and write. */
  public static final int O_RDWR = 2;
  /** open(2): read only. */
  public static final int O_RDONLY = 0;
  /** open(2): close on exec, so that tools the daemon starts do not inherit the descriptor. */
  public static final int O_CLOEXEC = 0x80000;
  /** mount(2): ignore set-user-id bits. */
  public static final long MS_NOSUID = 2;
  /** mount(2): no device files. */
  public static final long MS_NODEV = 4;
  /** umount2(2): detach now, finish when the last user is gone. */
  public static final int MNT_DETACH = 2;
  /** lseek(2) whence: next data at or after the offset. */
  public static final int SEEK_DATA = 3;
  /** lseek(2) whence: next hole at or after the offset. */
  public static final int SEEK_HOLE = 4;

  private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
  private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
  private static final MemoryLayout PTR = ValueLayout.ADDRESS;

  // Pointers on the data path are passed as longs (same register in the x86-64 and AArch64 ABIs),
  // so that no MemorySegment slice is made per call.
  private static final MethodHandle READ =
      down("read", FunctionDescriptor.of(LONG, INT, LONG, LONG));
  private static final MethodHandle WRITE =
      down("write", FunctionDescriptor.of(LONG, INT, LONG, LONG));
  private static final MethodHandle OPEN = down("open", FunctionDescriptor.of(INT, PTR, INT));
  private static final MethodHandle CLOSE = down("close", FunctionDescriptor.of(INT, INT));
  private static final MethodHandle MOUNT =
      down("mount", FunctionDescriptor.of(INT, PTR, PTR, PTR, LONG, PTR));
  private static final MethodHandle UMOUNT2 = down("umount2", FunctionDescriptor.of(INT, PTR, INT));
  private static final MethodHandle STAT = down("stat", FunctionDescriptor.of(INT, PTR, PTR));
  private static final MethodHandle LSEEK =
      down("lseek", FunctionDescriptor.of(LONG, INT, LONG, INT));
  private static final MethodHandle IOCTL = Libc.withErrno(
      "ioctl", FunctionDescriptor.of(INT, INT, LONG, LONG), Linker.Option.firstVariadicArg(2));
  private static final MethodHandle GETEUID = Libc.plain("geteuid", FunctionDescriptor.of(INT));
  private static final MethodHandle GETEGID = Libc.plain("getegid", FunctionDescriptor.of(INT));

  private LinuxCalls() {}

  private static MethodHandle down(String name, FunctionDescriptor fd) {
    return Libc.withErrno(name, fd);
  }

  /** A slot calls store errno into; one per thread that uses {@link #read} or {@link #write}. */
  public static MemorySegment errnoSlot(Arena arena) {
    return Libc.errnoSlot(arena);
  }

  private static int errno(MemorySegment slot) {
    return Libc.errno(slot);
  }

  /** read(2) into {@code address}; the count, or {@code -errno}. */
  public static long read(MemorySegment slot, int fd, long address, long count) {
    return transfer(READ, slot, fd, address, count);
  }

  /** write(2) from {@code address}; the count, or {@code -errno}. */
  public static long write(MemorySegment slot, int fd, long address, long count) {
    return transfer(WRITE, slot, fd, address, count);
  }

  private static long transfer(MethodHandle call, MemorySegment slot, int fd, long address,
      long count) {
    try {
      long n = (long) call.invokeExact(slot, fd, address, count);
      return n < 0 ? -errno(slot) : n;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /** A call that returns a negative number on failure, with errno in {@code slot}. */
  @FunctionalInterface
  private interface Call {
    long run(MemorySegment slot, Arena arena) throws Throwable;
  }

  /** Runs a control-path call; its result, or a {@link LinuxException} naming {@code what}. */
  private static long checked(String what, Call call) throws LinuxException {
    try (Arena a = Arena.ofConfined()) {
      MemorySegment slot = errnoSlot(a);
      long r = call.run(slot, a);
      if (r < 0) {
        throw new LinuxException(what, errno(slot));
      }
      return r;
    } catch (LinuxException | RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(what, t);
    }
  }

  private static MemorySegment string(Arena a, String s) {
    return s == null ? MemorySegment.NULL : a.allocateFrom(s);
  }

  /** open(2). */
  public static int open(String path, int flags) throws LinuxException {
    return (int) checked("open " + path,
        (slot, a) -> (int) OPEN.invokeExact(slot, a.allocateFrom(path), flags));
  }

  /** close(2); failures are of no use to the caller and ignored. */
  public static void close(int fd) {
    try {
      checked("close", (slot, a) -> (int) CLOSE.invokeExact(slot, fd));
    } catch (LinuxException e) {
      // nothing to do about it
    }
  }

  /** mount(2) of a file system without a source device. */
  public static void mount(String source, String target, String type, long flags, String data)
      throws LinuxException {
    checked("mount " + target, (slot, a) -> (int) MOUNT.invokeExact(slot, string(a, source),
        string(a, target), string(a, type), flags, string(a, data)));
  }

  /** umount2(2). */
  public static void umount2(String target, int flags) throws LinuxException {
    checked("umount " + target,
        (slot, a) -> (int) UMOUNT2.invokeExact(slot, a.allocateFrom(target), flags));
  }

  /** stat(2), for its outcome only: throws when {@code path} cannot be stat'ed. */
  public static void stat(String path) throws LinuxException {
    checked("stat " + path, (slot, a) -> (int) STAT.invokeExact(slot, a.allocateFrom(path),
        a.allocate(256, 8)));
  }

  /** lseek(2): the new offset. */
  public static long lseek(int fd, long offset, int whence) throws LinuxException {
    return checked("lseek", (slot, a) -> (long) LSEEK.invokeExact(slot, fd, offset, whence));
  }

  /** ioctl(2) with an integer argument. */
  public static int ioctl(int fd, long request, long arg) throws LinuxException {
    return (int) checked("ioctl", (slot, a) -> (int) IOCTL.invokeExact(slot, fd, request, arg));
  }

  /** The C library's text for {@code errno}, e.g. "Transport endpoint is not connected". */
  public static String describe(int errno) {
    return Libc.strerror(errno);
  }

  /** The effective user id. */
  public static int geteuid() {
    try {
      return (int) GETEUID.invokeExact();
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /** The effective group id. */
  public static int getegid() {
    try {
      return (int) GETEGID.invokeExact();
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }
}
