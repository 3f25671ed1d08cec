package dev.jdm.fuse.proto;

/**
 * What a file system served by a {@link FuseSession} does for each request. Every method answers
 * its request through one of the request's reply methods before it returns; the session answers EIO
 * for a method that returns without replying or throws. Methods run on the session's worker threads,
 * many at once. Arguments are as {@code fuse.h} defines them for the opcode.
 */
public interface FuseFilesystem {
  /** The kernel and the session agreed on {@code terms}; called once, before any request. */
  default void init(FuseInit terms) {}

  /** Finds {@code name} in directory {@code parent}; a found node gains one lookup reference. */
  void lookup(FuseRequest r, long parent, String name);

  /** The kernel dropped {@code lookups} references to {@code node}; no reply. */
  default void forget(long node, long lookups) {}

  /** Attributes of {@code node}. */
  void getattr(FuseRequest r, long node);

  /**
   * Changes attributes of {@code node}.
   *
   * @param valid which fields are set, {@code FuseWire.FATTR_*}
   */
  void setattr(FuseRequest r, long node, int valid, long size, int mode);

  /** Opens {@code node} with open(2) {@code flags}; replies a handle and FOPEN_* flags. */
  void open(FuseRequest r, long node, int flags);

  /** Reads {@code size} bytes at {@code offset}; replies the data (short at end of file). */
  void read(FuseRequest r, long node, long fh, long offset, int size);

  /**
   * Writes {@code size} bytes at {@code offset} from {@link FuseRequest#writeData()}.
   *
   * @param flags the open(2) flags of the file (O_SYNC, O_DSYNC matter)
   */
  void write(FuseRequest r, long node, long fh, long offset, int size, int flags);

  /** One descriptor of an open file is being closed. */
  void flush(FuseRequest r, long node, long fh);

  /** fsync(2), or fdatasync(2) when {@code dataOnly}. */
  void fsync(FuseRequest r, long node, long fh, boolean dataOnly);

  /** The last descriptor of an open file closed. */
  void release(FuseRequest r, long node, long fh);

  /** Opens directory {@code node}. */
  void opendir(FuseRequest r, long node);

  /** Lists entries of an open directory from position {@code offset}, at most {@code size} bytes. */
  void readdir(FuseRequest r, long node, long fh, long offset, int size);

  /** The last descriptor of an open directory closed. */
  void releasedir(FuseRequest r, long node, long fh);

  /** File system statistics. */
  void statfs(FuseRequest r);

  /** fallocate(2) with {@code FuseWire.FALLOC_FL_*} {@code mode}. */
  void fallocate(FuseRequest r, long node, long fh, long offset, long length, int mode);

  /** lseek(2) with SEEK_DATA or SEEK_HOLE. */
  void lseek(FuseRequest r, long node, long fh, long offset, int whence);

  /** A request to create, remove, link or rename a name; the default refuses with ENOSYS. */
  default void changeNames(FuseRequest r) {
    r.replyError(Errno.ENOSYS);
  }
}
