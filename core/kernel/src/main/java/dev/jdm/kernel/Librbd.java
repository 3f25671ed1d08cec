package dev.jdm.kernel;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * The librados and librbd calls jdm uses (Ceph's C API, {@code rados/librados.h} and
 * {@code rbd/librbd.h}), bound with FFM. Handles ({@code rados_t}, {@code rados_ioctx_t},
 * {@code rbd_image_t}, {@code rbd_completion_t}) and buffers pass as plain longs, so the data calls
 * allocate nothing. Every call returns what C returns: 0 or more, or a negative errno.
 */
final class Librbd {
  /** {@code RBD_WRITE_ZEROES_FLAG_THICK_PROVISION}: zero without deallocating. */
  static final int WRITE_ZEROES_THICK = 1;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final ValueLayout.OfLong P = ValueLayout.JAVA_LONG;
  private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
  private static volatile Librbd loaded;

  private final MethodHandle radosCreate;
  private final MethodHandle radosConfReadFile;
  private final MethodHandle radosConfSet;
  private final MethodHandle radosConnect;
  private final MethodHandle radosShutdown;
  private final MethodHandle ioctxCreate;
  private final MethodHandle ioctxDestroy;
  private final MethodHandle ioctxSetNamespace;
  private final MethodHandle open;
  private final MethodHandle openReadOnly;
  private final MethodHandle close;
  private final MethodHandle getSize;
  private final MethodHandle createCompletion;
  private final MethodHandle aioRead;
  private final MethodHandle aioWrite;
  private final MethodHandle aioDiscard;
  private final MethodHandle aioWriteZeroes;
  private final MethodHandle aioFlush;
  private final MethodHandle aioReturnValue;
  private final MethodHandle aioRelease;
  private final MethodHandle diffIterate;
  private final MethodHandle strerror;
  /** The C function librbd calls when an aio request completes: {@link RbdDevice#completed}. */
  final long completionCallback;
  /** The C function rbd_diff_iterate2 calls per extent: {@link RbdDevice#extent}. */
  final long extentCallback;

  private Librbd(SymbolLookup rados, SymbolLookup rbd) throws ReflectiveOperationException {
    radosCreate = bind(rados, "rados_create", FunctionDescriptor.of(I, P, P));
    radosConfReadFile = bind(rados, "rados_conf_read_file", FunctionDescriptor.of(I, P, P));
    radosConfSet = bind(rados, "rados_conf_set", FunctionDescriptor.of(I, P, P, P));
    radosConnect = bind(rados, "rados_connect", FunctionDescriptor.of(I, P));
    radosShutdown = bind(rados, "rados_shutdown", FunctionDescriptor.ofVoid(P));
    ioctxCreate = bind(rados, "rados_ioctx_create", FunctionDescriptor.of(I, P, P, P));
    ioctxDestroy = bind(rados, "rados_ioctx_destroy", FunctionDescriptor.ofVoid(P));
    ioctxSetNamespace = bind(rados, "rados_ioctx_set_namespace", FunctionDescriptor.ofVoid(P, P));
    open = bind(rbd, "rbd_open", FunctionDescriptor.of(I, P, P, P, P));
    openReadOnly = bind(rbd, "rbd_open_read_only", FunctionDescriptor.of(I, P, P, P, P));
    close = bind(rbd, "rbd_close", FunctionDescriptor.of(I, P));
    getSize = bind(rbd, "rbd_get_size", FunctionDescriptor.of(I, P, P));
    createCompletion = bind(rbd, "rbd_aio_create_completion", FunctionDescriptor.of(I, P, P, P));
    aioRead = bind(rbd, "rbd_aio_read", FunctionDescriptor.of(I, P, P, P, P, P));
    aioWrite = bind(rbd, "rbd_aio_write", FunctionDescriptor.of(I, P, P, P, P, P));
    aioDiscard = bind(rbd, "rbd_aio_discard", FunctionDescriptor.of(I, P, P, P, P));
    aioWriteZeroes = bind(rbd, "rbd_aio_write_zeroes",
        FunctionDescriptor.of(I, P, P, P, P, I, I));
    aioFlush = bind(rbd, "rbd_aio_flush", FunctionDescriptor.of(I, P, P));
    aioReturnValue = bind(rbd, "rbd_aio_get_return_value", FunctionDescriptor.of(P, P));
    aioRelease = bind(rbd, "rbd_aio_release", FunctionDescriptor.ofVoid(P));
    diffIterate = bind(rbd, "rbd_diff_iterate2", FunctionDescriptor.of(I, P, P, P, P,
        ValueLayout.JAVA_BYTE, ValueLayout.JAVA_BYTE, P, P));
    strerror = LINKER.downcallHandle(LINKER.defaultLookup().find("strerror").orElseThrow(),
        FunctionDescriptor.of(ValueLayout.ADDRESS, I));
    MethodHandles.Lookup lookup = MethodHandles.lookup();
    completionCallback = LINKER.upcallStub(lookup.findStatic(RbdDevice.class, "completed",
        MethodType.methodType(void.class, long.class, long.class)),
        FunctionDescriptor.ofVoid(P, P), Arena.global()).address();
    extentCallback = LINKER.upcallStub(lookup.findStatic(RbdDevice.class, "extent",
        MethodType.methodType(int.class, long.class, long.class, int.class, long.class)),
        FunctionDescriptor.of(I, P, P, I, P), Arena.global()).address();
  }

  /**
   * Loads librados and librbd once.
   *
   * @throws IOException saying which library is missing and what installs it
   */
  static Librbd load() throws IOException {
    Librbd l = loaded;
    if (l != null) {
      return l;
    }
    synchronized (Librbd.class) {
      if (loaded == null) {
        SymbolLookup rados = library("librados.so.2", "librados2");
        SymbolLookup rbd = library("librbd.so.1", "librbd1");
        try {
          loaded = new Librbd(rados, rbd);
        } catch (ReflectiveOperationException | RuntimeException e) {
          throw new IOException("librbd lacks a call jdm needs: " + e.getMessage(), e);
        }
      }
      return loaded;
    }
  }

  private static SymbolLookup library(String name, String debianPackage) throws IOException {
    try {
      return SymbolLookup.libraryLookup(name, Arena.global());
    } catch (IllegalArgumentException e) {
      throw new IOException(name + " cannot be loaded (is " + debianPackage
          + " installed?)");
    }
  }

  private static MethodHandle bind(SymbolLookup lib, String name, FunctionDescriptor fd) {
    MemorySegment symbol = lib.find(name).orElseThrow(() -> new IllegalStateException(name));
    return LINKER.downcallHandle(symbol, fd);
  }

  private static RuntimeException failed(Throwable t) {
    return t instanceof RuntimeException r ? r : new IllegalStateException(t);
  }

  // ------------------------------------------------------------------ the cluster

  int radosCreate(long out, long id) {
    try {
      return (int) radosCreate.invokeExact(out, id);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  int radosConfReadFile(long cluster, long path) {
    try {
      return (int) radosConfReadFile.invokeExact(cluster, path);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  int radosConfSet(long cluster, long option, long value) {
    try {
      return (int) radosConfSet.invokeExact(cluster, option, value);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  int radosConnect(long cluster) {
    try {
      return (int) radosConnect.invokeExact(cluster);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  void radosShutdown(long cluster) {
    try {
      radosShutdown.invokeExact(cluster);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  int ioctxCreate(long cluster, long pool, long out) {
    try {
      return (int) ioctxCreate.invokeExact(cluster, pool, out);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  void ioctxDestroy(long ioctx) {
    try {
      ioctxDestroy.invokeExact(ioctx);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  void ioctxSetNamespace(long ioctx, long namespace) {
    try {
      ioctxSetNamespace.invokeExact(ioctx, namespace);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  // ------------------------------------------------------------------ images

  int open(long ioctx, long name, long out, long snapshot, boolean readOnly) {
    try {
      return readOnly ? (int) openReadOnly.invokeExact(ioctx, name, out, snapshot)
          : (int) open.invokeExact(ioctx, name, out, snapshot);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  int close(long image) {
    try {
      return (int) close.invokeExact(image);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  int getSize(long image, long out) {
    try {
      return (int) getSize.invokeExact(image, out);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  int diffIterate(long image, long offset, long length, long arg) {
    try {
      return (int) diffIterate.invokeExact(image, 0L, offset, length, (byte) 1, (byte) 0,
          extentCallback, arg);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  // ------------------------------------------------------------------ asynchronous I/O

  int createCompletion(long arg, long out) {
    try {
      return (int) createCompletion.invokeExact(arg, completionCallback, out);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  int aioRead(long image, long offset, long length, long buffer, long completion) {
    try {
      return (int) aioRead.invokeExact(image, offset, length, buffer, completion);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  int aioWrite(long image, long offset, long length, long buffer, long completion) {
    try {
      return (int) aioWrite.invokeExact(image, offset, length, buffer, completion);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  int aioDiscard(long image, long offset, long length, long completion) {
    try {
      return (int) aioDiscard.invokeExact(image, offset, length, completion);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  int aioWriteZeroes(long image, long offset, long length, long completion, int flags) {
    try {
      return (int) aioWriteZeroes.invokeExact(image, offset, length, completion, flags, 0);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  int aioFlush(long image, long completion) {
    try {
      return (int) aioFlush.invokeExact(image, completion);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  long aioReturnValue(long completion) {
    try {
      return (long) aioReturnValue.invokeExact(completion);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  void aioRelease(long completion) {
    try {
      aioRelease.invokeExact(completion);
    } catch (Throwable t) {
      throw failed(t);
    }
  }

  /** The C library's text for {@code errno}, e.g. "No such file or directory". */
  String strerror(int errno) {
    try {
      MemorySegment s = (MemorySegment) strerror.invokeExact(errno);
      return s.reinterpret(1024).getString(0);
    } catch (Throwable t) {
      return "errno " + errno;
    }
  }
}
