package dev.jdm.fuse.proto;

/** The Linux errno values the FUSE code answers with or reacts to (asm-generic/errno*.h). */
public final class Errno {
  /** Operation not permitted. */
  public static final int EPERM = 1;
  /** No such file or directory; also "request no longer exists" when writing a reply. */
  public static final int ENOENT = 2;
  /** Interrupted system call. */
  public static final int EINTR = 4;
  /** Input/output error. */
  public static final int EIO = 5;
  /** No such device or address: lseek SEEK_DATA past the last data. */
  public static final int ENXIO = 6;
  /** Try again: an interrupt for a request not seen yet. */
  public static final int EAGAIN = 11;
  /** No such device: the FUSE connection is gone (unmounted or aborted). */
  public static final int ENODEV = 19;
  /** Not a directory. */
  public static final int ENOTDIR = 20;
  /** Is a directory. */
  public static final int EISDIR = 21;
  /** Invalid argument. */
  public static final int EINVAL = 22;
  /** No space left on device: a write at or past the end of a device file. */
  public static final int ENOSPC = 28;
  /** Read-only file system: a write open of a read-only device. */
  public static final int EROFS = 30;
  /** Function not implemented: an opcode this server does not handle. */
  public static final int ENOSYS = 38;
  /** Protocol error: a kernel too old to talk to. */
  public static final int EPROTO = 71;
  /** Operation not supported. */
  public static final int EOPNOTSUPP = 95;
  /** Transport endpoint is not connected: a FUSE mount whose server is gone. */
  public static final int ENOTCONN = 107;

  private Errno() {}
}
