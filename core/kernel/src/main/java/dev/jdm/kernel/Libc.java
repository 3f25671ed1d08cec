package dev.jdm.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The one FFM binding to the C library that jdm's Linux calls share (the kernel's file calls, the
 * FUSE session's): symbol lookup, downcall handles with or without errno capture, errno and
 * {@code strerror}. Each user declares only the calls it needs.
 */
// Calling into the C library is this class's purpose; the JVM runs with native access enabled.
@SuppressWarnings("restricted")
public final class Libc {
  private static final Linker LINKER = Linker.nativeLinker();
  private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");
  private static final MethodHandle STRERROR =
      plain("strerror", FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

  private Libc() {}

  /**
   * A handle to {@code name} whose first argument is an errno slot ({@link #errnoSlot}) that the
   * call fills; {@code options} add e.g. {@link Linker.Option#firstVariadicArg}.
   */
  public static MethodHandle withErrno(String name, FunctionDescriptor fd,
      Linker.Option... options) {
    Linker.Option[] all = new Linker.Option[options.length + 1];
    all[0] = CAPTURE;
    System.arraycopy(options, 0, all, 1, options.length);
    return LINKER.downcallHandle(symbol(name), fd, all);
  }

  /** A handle to {@code name} without errno: for calls whose failure needs no reason. */
  public static MethodHandle plain(String name, FunctionDescriptor fd) {
    return LINKER.downcallHandle(symbol(name), fd);
  }

  private static MemorySegment symbol(String name) {
    return LINKER.defaultLookup().find(name).orElseThrow(() -> new UnsatisfiedLinkError(name));
  }

  /** A slot that {@link #withErrno} calls store errno into. */
  public static MemorySegment errnoSlot(Arena arena) {
    return arena.allocate(CALL_STATE);
  }

  /** The errno a call stored into {@code slot}. */
  public static int errno(MemorySegment slot) {
    return (int) ERRNO.get(slot, 0L);
  }

  /** The C library's text for {@code errno}, e.g. "No such file or directory". */
  public static String strerror(int errno) {
    try {
      MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
      return s.reinterpret(1024).getString(0);
    } catch (Throwable t) {
      return "errno " + errno;
    }
  }
}
