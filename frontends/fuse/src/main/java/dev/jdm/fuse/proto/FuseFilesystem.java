package dev.jdm.fuse.proto;

/**
 * What a file system served by a {@link FuseSession} does for each request. Every method answers
 * its request through one of the request's reply methods before it returns; the session answers
 * EIO for a method that returns without replying or throws. Methods run on the session's worker
 * threads, many at once. Arguments are as {@code fuse.h} defines them for the opcode. A method not
 * overridden answers ENOSYS, which the kernel takes as "not supported" (and often stops asking).
 */
public interface FuseFilesystem {
  /** The kernel and the session agreed on {@code terms}; called once, before any request. */
  default void init(FuseInit terms) {}

  /** Finds {@code name} in directory {@code parent}; a found node gains one lookup reference. */
  default void lookup(FuseRequest r, long parent, String name) {
    r.replyError(Errno.ENOSYS);
  }

  /** The kernel dropped {@code lookups} references to {@code node}; no reply. */
  default void forget(long node, long lookups) {}

  /** Attributes of {@code node}. */
  default void getattr(FuseRequest r, long node) {
    r.replyError(Errno.ENOSYS);
  }

  /**
   * Changes attributes of {@code node}.
   *
   * @param valid which fields are set, {@code FuseWire.FATTR_*}
   */
  default void setattr(FuseRequest r, long node, int valid, long size, int mode) {
    r.replyError(Errno.ENOSYS);
  }

  /** Opens {@code node} with open(2) {@code flags}; replies a handle and FOPEN_* flags. */
  default void open(FuseRequest r, long node, int flags) {
    r.replyError(Errno.ENOSYS);
  }

  /** Reads {@code size} bytes at {@code offset}; replies the data (short at end of file). */
  default void read(FuseRequest r, long node, long fh, long offset, int size) {
    r.replyError(Errno.ENOSYS);
  }

  /**
   * Writes {@code size} bytes at {@code offset} from {@link FuseRequest#writeData()}.
   *
   * @param flags the open(2) flags of the file (O_SYNC, O_DSYNC matter)
   */
  default void write(FuseRequest r, long node, long fh, long offset, int size, int flags) {
    r.replyError(Errno.ENOSYS);
  }

  /** One descriptor of an open file is being closed. */
  default void flush(FuseRequest r, long node, long fh) {
    r.replyError(Errno.ENOSYS);
  }

  /** fsync(2), or fdatasync(2) when {@code dataOnly}. */
  default void fsync(FuseRequest r, long node, long fh, boolean dataOnly) {
    r.replyError(Errno.ENOSYS);
  }

  /** The last descriptor of an open file closed. */
  default void release(FuseRequest r, long node, long fh) {
    r.replyError(Errno.ENOSYS);
  }

  /** Opens directory {@code node}. */
  default void opendir(FuseRequest r, long node) {
    r.replyError(Errno.ENOSYS);
  }

  /** Lists an open directory's entries from position {@code offset}, in {@code size} bytes. */
  default void readdir(FuseRequest r, long node, long fh, long offset, int size) {
    r.replyError(Errno.ENOSYS);
  }

  /** The last descriptor of an open directory closed. */
  default void releasedir(FuseRequest r, long node, long fh) {
    r.replyError(Errno.ENOSYS);
  }

  /** File system statistics. */
  default void statfs(FuseRequest r) {
    r.replyError(Errno.ENOSYS);
  }

  /** fallocate(2) with {@code FuseWire.FALLOC_FL_*} {@code mode}. */
  default void fallocate(FuseRequest r, long node, long fh, long offset, long length, int mode) {
    r.replyError(Errno.ENOSYS);
  }

  /** lseek(2) with SEEK_DATA or SEEK_HOLE. */
  default void lseek(FuseRequest r, long node, long fh, long offset, int whence) {
    r.replyError(Errno.ENOSYS);
  }

  /** A request to create, remove, link or rename a name. */
  default void changeNames(FuseRequest r) {
    r.replyError(Errno.ENOSYS);
  }
}
