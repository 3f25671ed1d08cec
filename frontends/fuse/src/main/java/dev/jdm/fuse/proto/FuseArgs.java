package dev.jdm.fuse.proto;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * The arguments of a request, decoded by opcode into the input struct {@code fuse.h} defines for it
 * (as go-fuse's {@code opcode.go} does): {@link #inputSize} says how many bytes each needs, and
 * {@link #fit} checks a request against it once, before any handler reads a field; a request too
 * short for its struct is refused. Each view is a flyweight over the request buffer, made once per
 * worker, so decoding allocates nothing.
 */
public final class FuseArgs {
  private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
  private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;

  /** Size of fuse_forget_in, fuse_interrupt_in, fuse_open_in, fuse_batch_forget_in. */
  static final int SMALL_IN = 8;
  /** Size of fuse_getattr_in and fuse_fsync_in. */
  static final int GETATTR_IN = 16;
  /** Size of fuse_init_in before 7.36; later kernels send 64 bytes, flags2 at 16. */
  static final int INIT_IN = 16;
  /** Size of fuse_flush_in, fuse_release_in and fuse_lseek_in. */
  static final int FLUSH_IN = 24;
  /** Size of fuse_fallocate_in. */
  static final int FALLOCATE_IN = 32;
  /** Size of fuse_read_in and fuse_write_in. */
  static final int READ_IN = 40;
  /** Size of fuse_setattr_in. */
  static final int SETATTR_IN = 88;
  /** Size of one fuse_forget_one of BATCH_FORGET. */
  static final int FORGET_ONE = 16;

  private final MemorySegment buffer;
  private final int at;
  private int length;

  /** Views of the arguments at byte {@code at} of {@code buffer}. */
  FuseArgs(MemorySegment buffer, int at) {
    this.buffer = buffer;
    this.at = at;
  }

  /**
   * The bytes of arguments {@code opcode} needs at least (its input struct); 0 for opcodes whose
   * arguments are not read.
   */
  public static int inputSize(int opcode) {
    return switch (opcode) {
      case FuseWire.LOOKUP -> 1;
      case FuseWire.FORGET, FuseWire.BATCH_FORGET, FuseWire.INTERRUPT, FuseWire.OPEN,
          FuseWire.OPENDIR -> SMALL_IN;
      case FuseWire.GETATTR, FuseWire.FSYNC, FuseWire.FSYNCDIR, FuseWire.INIT -> GETATTR_IN;
      case FuseWire.FLUSH, FuseWire.RELEASE, FuseWire.RELEASEDIR, FuseWire.LSEEK -> FLUSH_IN;
      case FuseWire.FALLOCATE -> FALLOCATE_IN;
      case FuseWire.READ, FuseWire.WRITE, FuseWire.READDIR -> READ_IN;
      case FuseWire.SETATTR -> SETATTR_IN;
      default -> 0;
    };
  }

  /**
   * Binds the views to a request of {@code opcode} with {@code length} bytes of arguments and checks
   * them: long enough for the opcode's struct, a WRITE's data all there, a LOOKUP name ended by a
   * NUL, a BATCH_FORGET's entries all there, an INIT's flags2 there when announced.
   *
   * @return null when they fit, else what is wrong
   */
  String fit(int opcode, int length) {
    this.length = length;
    int need = inputSize(opcode);
    if (length < need) {
      return length + " bytes of arguments, " + need + " needed";
    }
    return switch (opcode) {
      case FuseWire.WRITE -> Integer.toUnsignedLong(write().size()) > length - READ_IN
          ? "WRITE of " + Integer.toUnsignedString(write().size()) + " bytes carries "
              + (length - READ_IN) : null;
      case FuseWire.LOOKUP -> nul() < 0 ? "LOOKUP name not ended by a NUL" : null;
      case FuseWire.BATCH_FORGET -> Integer.toUnsignedLong(int0()) * FORGET_ONE
          > length - SMALL_IN ? "BATCH_FORGET of " + Integer.toUnsignedString(int0())
              + " nodes carries " + (length - SMALL_IN) + " bytes" : null;
      case FuseWire.INIT -> (init().flags() & FuseWire.INIT_EXT) != 0 && length < INIT_IN + 4
          ? "INIT announces flags2 but carries " + length + " bytes" : null;
      default -> null;
    };
  }

  private int int0() {
    return buffer.get(INT, at);
  }

  private int nul() {
    for (int i = 0; i < length; i++) {
      if (buffer.get(ValueLayout.JAVA_BYTE, at + i) == 0) {
        return i;
      }
    }
    return -1;
  }

  private int intAt(int offset) {
    return buffer.get(INT, at + offset);
  }

  private long longAt(int offset) {
    return buffer.get(LONG, at + offset);
  }

  /** LOOKUP's name. */
  public String name() {
    byte[] name = new byte[nul()];
    MemorySegment.copy(buffer, ValueLayout.JAVA_BYTE, at, name, 0, name.length);
    return new String(name, StandardCharsets.UTF_8);
  }

  /** fuse_forget_in.nlookup. */
  public long forgetLookups() {
    return longAt(0);
  }

  /** fuse_batch_forget_in.count: how many {@link #forgetNode} / {@link #forgetCount} entries. */
  public int batchCount() {
    return int0();
  }

  /** The node of BATCH_FORGET entry {@code i}. */
  public long forgetNode(int i) {
    return longAt(SMALL_IN + FORGET_ONE * i);
  }

  /** The lookups dropped by BATCH_FORGET entry {@code i}. */
  public long forgetCount(int i) {
    return longAt(SMALL_IN + FORGET_ONE * i + 8);
  }

  /** fuse_interrupt_in.unique: the request interrupted. */
  public long interrupted() {
    return longAt(0);
  }

  /** fuse_open_in.flags: open(2) flags. */
  public int openFlags() {
    return intAt(0);
  }

  /** The file handle of fuse_read_in, fuse_write_in, fuse_flush_in, fuse_fsync_in, ... */
  public long fh() {
    return longAt(0);
  }

  /** fuse_fsync_in.fsync_flags. */
  public int fsyncFlags() {
    return intAt(8);
  }

  private final Io io = new Io();
  private final Setattr setattr = new Setattr();
  private final Init init = new Init();

  /** READ, WRITE and READDIR: fuse_read_in / fuse_write_in. */
  public Io read() {
    return io;
  }

  /** WRITE: fuse_write_in; the data follows it. */
  public Io write() {
    return io;
  }

  /** SETATTR: fuse_setattr_in. */
  public Setattr setattr() {
    return setattr;
  }

  /** INIT: fuse_init_in. */
  public Init init() {
    return init;
  }

  /** fuse_read_in and fuse_write_in (the same layout for what is read here). */
  public final class Io {
    private Io() {}

    /** The file handle. */
    public long fh() {
      return longAt(0);
    }

    /** Byte offset in the file. */
    public long offset() {
      return longAt(8);
    }

    /** Bytes to read or written. */
    public int size() {
      return intAt(16);
    }

    /** WRITE: the file's open(2) flags (fuse_write_in.flags). */
    public int fileFlags() {
      return intAt(32);
    }
  }

  /** fuse_setattr_in. */
  public final class Setattr {
    private Setattr() {}

    /** Which fields are set: FATTR_*. */
    public int valid() {
      return intAt(0);
    }

    /** The new size. */
    public long size() {
      return longAt(16);
    }

    /** The new mode. */
    public int mode() {
      return intAt(68);
    }
  }

  /** fuse_init_in. */
  public final class Init {
    private Init() {}

    public int major() {
      return intAt(0);
    }

    public int minor() {
      return intAt(4);
    }

    public int maxReadahead() {
      return intAt(8);
    }

    public int flags() {
      return intAt(12);
    }

    /** flags2, the flags' high word; valid when {@link #flags} has INIT_EXT. */
    public int flags2() {
      return intAt(16);
    }
  }

  /** fuse_fallocate_in.offset, and fuse_lseek_in.offset. */
  public long rangeOffset() {
    return longAt(8);
  }

  /** fuse_fallocate_in.length. */
  public long fallocateLength() {
    return longAt(16);
  }

  /** fuse_fallocate_in.mode. */
  public int fallocateMode() {
    return intAt(24);
  }

  /** fuse_lseek_in.whence. */
  public int whence() {
    return intAt(16);
  }
}
