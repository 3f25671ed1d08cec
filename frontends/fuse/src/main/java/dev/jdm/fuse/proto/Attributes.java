package dev.jdm.fuse.proto;

/**
 * What a node shows to stat(2): the fields of {@code struct fuse_attr} this file system sets.
 * Access, modification and change times are all {@code seconds}.{@code nanos}.
 *
 * @param mode file type and permission bits, e.g. {@code 0100600}
 * @param blksize the preferred I/O size stat reports
 */
public record Attributes(long ino, long size, long blocks, long seconds, int nanos, int mode,
    int nlink, int uid, int gid, int blksize) {
  /** File type bits of a directory. */
  public static final int S_IFDIR = 0040000;
  /** File type bits of a regular file. */
  public static final int S_IFREG = 0100000;
}
